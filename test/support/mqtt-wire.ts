// Hand-built MQTT bytes for tests (and benches) that must send what a real client library never
// would: a fixed header declaring more than follows, a packet left unfinished, a bare CONNECT.
import { connect } from 'node:net'
import mqttPacket from 'mqtt-packet'

/** Remaining-length encoding of MQTT 3.1.1 (clause 2.2.3). */
export function remainingLength(n: number): number[] {
  const out: number[] = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return out
}

/** The start of a CONNECT declaring `length` bytes (protocol MQTT, level 4), its body never finished. */
export function connectHeader(length: number): Buffer {
  return Buffer.from([0x10, ...remainingLength(length), 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0xc2, 0, 0])
}

/** A clean-session MQTT 3.1.1 CONNECT with a username and password (clause 3.1). */
export function connectPacket(c: { clientId: string; username: string; password: string; keepalive: number }): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    keepalive: c.keepalive,
    clientId: c.clientId,
    username: c.username,
    password: Buffer.from(c.password),
  })
}

/**
 * CONNECT over a raw socket (mqtt-packet, MQTT 3.1.1), resolving with the CONNACK return code, or
 * -1 when the socket closed or failed without one.
 */
export function connackOf(port: number, username: string, password: string, clientId = ''): Promise<number> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' })
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', (p) => {
      if (p.cmd === 'connack') {
        resolve(p.returnCode ?? -1)
        s.destroy()
      }
    })
    s.on('data', (b) => parser.parse(b))
    s.on('error', () => resolve(-1))
    s.on('close', () => resolve(-1))
    s.write(connectPacket({ clientId, username, password, keepalive: 30 }))
  })
}
