// Only a valid status becomes the retained `devices/{id}/status` that every new subscriber is
// served first (docs/mqtt.md): a refused one (over 4 KiB, not JSON, not a status document, an
// unreadable time) is acknowledged and handed to the status route, but neither retained nor
// delivered; the previous retained status stays. Real aedes, real mqtt.js.
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DevicePublish } from '../../gateway/broker/index.ts'
import { waitFor } from '../support/services.ts'
import { startBroker, type Harness } from './harness.ts'

let h: Harness
const routed: DevicePublish[] = []

beforeAll(async () => {
  h = await startBroker({ routes: { status: async (m) => void routed.push(m) } })
})
afterAll(async () => {
  await h?.stop()
})

/** A new subscriber's first (retained) status of a device. */
async function retainedStatus(deviceId: string): Promise<string> {
  const c = await h.connect('token', await h.addToken('viewer'))
  const got = new Promise<string>((resolve) => c.on('message', (_t, payload, packet) => packet.retain && resolve(payload.toString())))
  await c.subscribeAsync(`devices/${deviceId}/status`, { qos: 1 })
  const payload = await got
  await c.endAsync()
  return payload
}

const VALID = '{"online":true,"ts":"2026-10-14T07:00:00+07:00","fw":"iocgw-edge/0.1.0"}'
const INVALID: Array<[string, string | Buffer]> = [
  ['too_large', JSON.stringify({ online: true, note: 'x'.repeat(5000) })],
  ['too_large', Buffer.alloc(1_900_000, 0x61)],
  ['invalid_json', '{"online": tru'],
  ['invalid_payload', '{"online":"yes"}'],
  ['invalid_payload', '{"online":true,"ts":"not a time"}'],
  ['invalid_json', ''],
]

describe('retained status', () => {
  it('keeps the last valid status when refused ones follow, and counts each', async () => {
    const secret = await h.addDevice('ret-01')
    const dev = await h.connect('ret-01', secret)
    await dev.publishAsync('devices/ret-01/status', VALID, { qos: 1, retain: true })
    const live: MqttClient = await h.connect('token', await h.addToken('viewer'))
    const liveGot: string[] = []
    live.on('message', (_t, p, packet) => !packet.retain && liveGot.push(p.toString()))
    await live.subscribeAsync('devices/+/status', { qos: 1 })

    const routedBefore = routed.length
    for (const [, payload] of INVALID) await dev.publishAsync('devices/ret-01/status', payload, { qos: 1, retain: true })
    // Each was acknowledged and handed to the status route (which refuses and records it).
    expect(routed.length).toBe(routedBefore + INVALID.length)
    expect(await retainedStatus('ret-01')).toBe(VALID)
    expect(await h.counter('mqtt_status_not_retained_total', { reason: 'too_large' })).toBe(2)
    expect(await h.counter('mqtt_status_not_retained_total', { reason: 'invalid_json' })).toBe(2)
    expect(await h.counter('mqtt_status_not_retained_total', { reason: 'invalid_payload' })).toBe(2)

    // Live subscribers do not get them either; a valid status after them goes through.
    await dev.publishAsync('devices/ret-01/status', '{"online":true,"uptime":5}', { qos: 1, retain: true })
    await waitFor(() => liveGot.length >= 1)
    expect(liveGot).toEqual(['{"online":true,"uptime":5}'])
    expect(await retainedStatus('ret-01')).toBe('{"online":true,"uptime":5}')
    await Promise.all([dev.endAsync(), live.endAsync()])
  })

  it('an invalid will status is not retained either; the gateway publishes the offline status instead', async () => {
    const secret = await h.addDevice('ret-02')
    const before = await h.counter('mqtt_status_not_retained_total', { reason: 'invalid_payload' })
    const dev = await h.connect('ret-02', secret, {
      will: { topic: 'devices/ret-02/status', payload: Buffer.from('{"online":0}'), qos: 1, retain: true },
    })
    await dev.publishAsync('devices/ret-02/status', VALID, { qos: 1, retain: true })
    ;(dev.stream as unknown as { destroy(): void }).destroy()
    await waitFor(async () => (await h.counter('mqtt_status_not_retained_total', { reason: 'invalid_payload' })) === before + 1)
    await waitFor(() => h.lines.some((l) => l.includes('"event":"device_offline","device":"ret-02"')))
    expect(JSON.parse(await retainedStatus('ret-02'))).toMatchObject({ online: false })
  })
})
