// Caps on what one MQTT packet may take: its size, more strictly before CONNACK, and the time its
// bytes may take to arrive. MQTT 3.1.1 allows a packet of up to 256 MB (clause 2.2.3) and aedes 1.x
// has no option to refuse less, so its parser would buffer whatever length a peer declares, before
// authentication too. mosquitto's max_packet_size does the same as this.
// Hand-written because aedes offers no hook here: the per-connection mqtt-packet parser's length
// step is wrapped, so an oversize packet is refused as soon as its fixed header is read, and its
// parse step, to see a packet left half-received.
import type { Client } from 'aedes'

/** A 2 MiB camera frame (docs/mqtt.md) plus room for the topic and MQTT framing. */
export const MAX_PACKET_BYTES = 2 * 1024 * 1024 + 64 * 1024

export interface PacketLimits {
  /** Largest packet once the client has its CONNACK. */
  max: number
  /**
   * Bytes all packets before CONNACK may declare together (`mqtt.maxConnectBytes`). A CONNECT is
   * a few hundred bytes; without this an unauthenticated peer could make the gateway hold a
   * 2 MiB packet per connection.
   */
  maxBeforeConnack: number
  /** True once the client was sent its CONNACK. */
  connacked(): boolean
  /**
   * How long one packet may take to arrive once its first byte came, ms (`mqtt.packetTimeoutMs`;
   * 0: no bound). A client may ask for no keepalive (0, MQTT-3.1.2-23) and then nothing else
   * would end a connection that trickles a packet a byte at a time, holding its buffer forever.
   */
  packetTimeoutMs: number
  onOversize(declared: number, limit: number, beforeConnack: boolean): void
  onSlowPacket(): void
}

interface ParserInternals {
  packet: { length: number; cmd?: string }
  _list: { length: number; consume(n: number): void }
  _stateCounter: number
  parse: (buf: Buffer) => number
  _parseLength: () => boolean
  _emitError: (err: Error) => unknown
}

/** False when the parser's shape is not the one known (an aedes or mqtt-packet upgrade). */
export function limitPackets(client: Client, limits: PacketLimits): boolean {
  const parser = (client as unknown as { _parser?: Partial<ParserInternals> })._parser
  if (!parser || typeof parser._parseLength !== 'function' || typeof parser._emitError !== 'function' || typeof parser.parse !== 'function')
    return false
  const p = parser as ParserInternals
  let declaredBeforeConnack = 0

  const parseLength = p._parseLength
  p._parseLength = function limitedParseLength(this: ParserInternals): boolean {
    const ok = parseLength.call(this)
    if (!ok) return ok
    const early = !limits.connacked()
    const declared = this.packet.length
    if (early) declaredBeforeConnack += declared
    const over = early ? declaredBeforeConnack > limits.maxBeforeConnack : declared > limits.max
    if (!over) return ok
    const limit = early ? limits.maxBeforeConnack : limits.max
    this._list.consume(this._list.length)
    limits.onOversize(declared, limit, early)
    // MQTT-4.8.0-1: a protocol violation closes the network connection (aedes does it on error).
    this._emitError(new Error(`packet of ${declared} bytes exceeds the ${limit}-byte limit${early ? ' before CONNACK' : ''}`))
    return false
  }

  if (limits.packetTimeoutMs > 0) {
    let timer: NodeJS.Timeout | undefined
    const expire = () => {
      timer = undefined
      limits.onSlowPacket()
      p._list.consume(p._list.length)
      p._emitError(new Error(`a packet took longer than ${limits.packetTimeoutMs} ms to arrive`))
    }
    const parse = p.parse
    p.parse = function timedParse(this: ParserInternals, buf: Buffer): number {
      const left = parse.call(this, buf)
      // Bytes of a packet not yet complete are left in the list (or its header was read).
      const partial = this._list.length > 0 || this._stateCounter !== 0
      if (partial && !timer) {
        timer = setTimeout(expire, limits.packetTimeoutMs)
        timer.unref()
      } else if (!partial && timer) {
        clearTimeout(timer)
        timer = undefined
      }
      return left
    }
    client.conn.once('close', () => {
      if (timer) clearTimeout(timer)
    })
  }
  return true
}
