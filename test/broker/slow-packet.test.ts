// A packet must arrive within `mqtt.packetTimeoutMs` once its first byte came. A client may ask
// for no keepalive (0, MQTT-3.1.2-23); without this bound one that trickles a PUBLISH a few bytes
// at a time would hold its connection and its buffer forever.
import { connect } from 'node:net'
import mqttPacket from 'mqtt-packet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectPacket } from '../support/mqtt-wire.ts'
import { waitFor } from '../support/services.ts'
import { startBroker, type Harness } from './harness.ts'

let h: Harness
let received = 0

beforeAll(async () => {
  h = await startBroker({
    config: { packetTimeoutMs: 500 },
    routes: {
      telemetry: async () => {
        received++
      },
    },
  })
})
afterAll(async () => {
  await h?.stop()
})

describe('packet arrival bound', () => {
  it('closes a keepalive-0 connection that trickles a PUBLISH, and leaves a quiet one open', async () => {
    const secret = await h.addDevice('slow-wl-01')
    const quiet = await h.connect('slow-wl-01', secret, { keepalive: 0, clientId: 'slow-wl-01:quiet' })

    const s = connect({ port: h.ports.mqtt, host: '127.0.0.1' })
    s.on('error', () => {})
    let closedAt = 0
    const gone = new Promise<void>((r) =>
      s.on('close', () => {
        closedAt = Date.now()
        r()
      }),
    )
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    const connack = new Promise<number>((r) =>
      parser.on('packet', (p) => {
        if (p.cmd === 'connack') r(p.returnCode ?? -1)
      }),
    )
    s.on('data', (b) => parser.parse(b))
    s.write(connectPacket({ clientId: '', username: 'slow-wl-01', password: secret, keepalive: 0 }))
    expect(await connack).toBe(0)

    const publish = mqttPacket.generate({
      cmd: 'publish',
      topic: 'devices/slow-wl-01/telemetry',
      payload: Buffer.alloc(4000, 0x20),
      qos: 0,
      retain: false,
      dup: false,
    })
    // A few bytes every 50 ms: the whole packet would take minutes.
    let sent = 0
    const trickle = setInterval(() => {
      if (s.destroyed || sent >= publish.length) return clearInterval(trickle)
      s.write(publish.subarray(sent, sent + 4))
      sent += 4
    }, 50)
    await gone
    clearInterval(trickle)
    expect(closedAt).toBeGreaterThan(0)
    expect(sent).toBeLessThan(publish.length)
    expect(received).toBe(0)
    expect(await h.counter('mqtt_connections_closed_total', { reason: 'packet_timeout' })).toBe(1)

    // The quiet keepalive-0 client sent nothing partial: still connected, and may publish.
    await new Promise((r) => setTimeout(r, 700))
    expect(quiet.connected).toBe(true)
    await quiet.publishAsync('devices/slow-wl-01/telemetry', '{}', { qos: 1 })
    await waitFor(() => received === 1)
  })
})
