// The packet size cap: a 2 MiB frame passes; a larger packet closes the connection, before
// authentication too.
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { remainingLength } from '../support/mqtt-wire.ts'
import { waitFor } from '../support/services.ts'
import { closed, startBroker, type Harness } from './harness.ts'

let h: Harness
let frameBytes = 0

beforeAll(async () => {
  h = await startBroker({
    routes: {
      frames: async (m) => {
        frameBytes = m.payload.length
      },
    },
  })
})
afterAll(async () => {
  await h?.stop()
})

describe('packet size limit', () => {
  it('accepts a 2 MiB frame', async () => {
    const secret = await h.addDevice('limit-cam-01', 'camera')
    const c = await h.connect('limit-cam-01', secret)
    const frame = Buffer.alloc(2 * 1024 * 1024, 7)
    await c.publishAsync('devices/limit-cam-01/frames', frame, { qos: 1 })
    expect(frameBytes).toBe(frame.length)
  })

  it('closes an unauthenticated connection that declares a 10 MB packet', async () => {
    const s = connect({ port: h.ports.mqtt, host: '127.0.0.1' })
    const gone = new Promise<void>((r) => s.on('close', () => r()))
    s.on('error', () => {})
    s.write(Buffer.from([0x10, ...remainingLength(10_000_000), 0, 4]))
    await gone
    await waitFor(async () => (await h.counter('mqtt_oversize_packets_total')) === 1)
  })

  it('closes a device connection that sends a 3 MiB publish, without passing it on', async () => {
    const secret = await h.addDevice('limit-cam-02', 'camera')
    const c = await h.connect('limit-cam-02', secret)
    frameBytes = 0
    const gone = closed(c)
    c.publish('devices/limit-cam-02/frames', Buffer.alloc(3 * 1024 * 1024, 1), { qos: 1 })
    await gone
    expect(frameBytes).toBe(0)
    await waitFor(async () => (await h.counter('mqtt_oversize_packets_total')) === 2)
  })
})
