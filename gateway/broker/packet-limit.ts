// A cap on the size of one MQTT packet. MQTT 3.1.1 allows a packet of up to 256 MB (clause
// 2.2.3) and aedes 1.x has no option to refuse less, so its parser would buffer whatever length a
// peer declares, before authentication too. mosquitto's max_packet_size does the same as this.
// Hand-written because aedes offers no hook here: the per-connection mqtt-packet parser's
// length step is wrapped, so an oversize packet is refused as soon as its fixed header is read.
import type { Client } from 'aedes'

/** A 2 MiB camera frame (docs/mqtt.md) plus room for the topic and MQTT framing. */
export const MAX_PACKET_BYTES = 2 * 1024 * 1024 + 64 * 1024

interface ParserInternals {
  packet: { length: number; cmd?: string }
  _list: { length: number; consume(n: number): void }
  _parseLength: () => boolean
  _emitError: (err: Error) => unknown
}

/** False when the parser's shape is not the one known (an aedes or mqtt-packet upgrade). */
export function limitPacketSize(client: Client, max: number, onOversize: (declared: number) => void): boolean {
  const parser = (client as unknown as { _parser?: Partial<ParserInternals> })._parser
  if (!parser || typeof parser._parseLength !== 'function' || typeof parser._emitError !== 'function') return false
  const p = parser as ParserInternals
  const parseLength = p._parseLength
  p._parseLength = function limitedParseLength(this: ParserInternals): boolean {
    const ok = parseLength.call(this)
    if (ok && this.packet.length > max) {
      const declared = this.packet.length
      this._list.consume(this._list.length)
      onOversize(declared)
      // MQTT-4.8.0-1: a protocol violation closes the network connection (aedes does it on error).
      this._emitError(new Error(`packet of ${declared} bytes exceeds the ${max}-byte limit`))
      return false
    }
    return ok
  }
  return true
}
