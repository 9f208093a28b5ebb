// CONNACK 1 for a protocol level the broker does not speak. MQTT-3.1.2-2: "The Server MUST respond
// to the CONNECT Packet with a CONNACK return code 0x01 (unacceptable protocol level) and then
// disconnect the Client if the Protocol Level is not supported by the Server."
//
// The broker speaks MQTT 3.1.1 (level 4) and, as aedes does, MQTT 3.1 (`MQIsdp`, level 3). aedes
// answers level 5 (MQTT 5) with CONNACK 1 itself (lib/handlers/connect.js init), but its packet
// parser (mqtt-packet) stops at any other level (0-2, 6-127, ...) with an error, and aedes then
// closes the socket without a CONNACK, so the client cannot tell a wrong level from a network
// fault. Hand-written because aedes offers no hook before its parser: the parser's error step is
// wrapped for that one error, the same way packet-limit.ts wraps its length step.
import type { Client } from 'aedes'
import type { Logger } from '../log/logger.ts'
import type { BrokerMetrics } from './metrics.ts'

/** The levels the broker accepts: 3 (MQTT 3.1) and 4 (MQTT 3.1.1). */
export function supportedLevel(level: number): boolean {
  return level === 3 || level === 4
}

/** Counts and logs one refusal (both paths: aedes' for level 5, this file's for the rest). */
export function levelRefused(m: BrokerMetrics, log: Logger, client: Client, level: number | undefined): void {
  m.connectRefused.inc({ reason: 'protocol_level' })
  const conn = client.conn as { remoteAddress?: string }
  log.warn(
    { event: 'mqtt_connect_refused', reason: 'protocol_level', level, remote: conn.remoteAddress ?? client.req?.socket?.remoteAddress },
    'MQTT connect refused: unsupported protocol level',
  )
}

/** CONNACK, remaining length 2, no session present, return code 1 (clause 3.2.2.3). */
const CONNACK_UNACCEPTABLE_LEVEL = Buffer.from([0x20, 0x02, 0x00, 0x01])

interface ParserInternals {
  packet: { cmd?: string; protocolVersion?: number }
  error: Error | null
  _list: { length: number; consume(n: number): void }
  parse: (buf: Buffer) => number
  _emitError: (err: Error) => unknown
}

/** mqtt-packet's message for a level it cannot parse (parser.js _parseConnect). */
const INVALID_LEVEL = 'Invalid protocol version'

/**
 * Makes the client's parser answer an unparseable protocol level with CONNACK 1 before the
 * connection closes. False when the parser's shape is not the one known (an upgrade).
 */
export function answerUnsupportedLevel(client: Client, onRefused: (level: number | undefined) => void): boolean {
  const parser = (client as unknown as { _parser?: Partial<ParserInternals> })._parser
  const conn = client.conn as unknown as { write?: (b: Buffer, cb: () => void) => boolean; writable?: boolean }
  if (!parser || typeof parser._emitError !== 'function' || typeof parser.parse !== 'function' || typeof conn.write !== 'function')
    return false
  const p = parser as ParserInternals
  const emitError = p._emitError
  p._emitError = function answeredEmitError(this: ParserInternals, err: Error): unknown {
    if (err.message !== INVALID_LEVEL || this.packet.cmd !== 'connect' || client.connected || client.connecting)
      return emitError.call(this, err)
    // Nothing after this CONNECT is read: the connection ends once the CONNACK is written.
    this.error = err
    this._list.consume(this._list.length)
    this.parse = () => 0
    onRefused(this.packet.protocolVersion)
    // The error closes the socket (aedes); raised only once the CONNACK is handed to the kernel.
    conn.write!(CONNACK_UNACCEPTABLE_LEVEL, () => emitError.call(this, err))
    return undefined
  }
  return true
}
