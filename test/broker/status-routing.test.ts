// Retained status with wills and gateway-published offline statuses; publish routing that
// acknowledges only once the handler has resolved.
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { DeviceStatusEvent } from '../../gateway/bus/events.ts'
import type { DevicePublish } from '../../gateway/broker/index.ts'
import { waitFor } from '../support/services.ts'
import { closed, startBroker, type Harness } from './harness.ts'

const SYS = { type: 'system', id: 'test' } as const
let h: Harness
const statuses: DeviceStatusEvent[] = []
const routed: DevicePublish[] = []
/** Telemetry handler behaviour, switched by tests. */
let telemetry: (msg: DevicePublish) => Promise<void> = async () => {}

beforeAll(async () => {
  h = await startBroker({
    routes: {
      status: async (msg) => {
        routed.push(msg)
      },
      telemetry: (msg) => telemetry(msg),
    },
  })
  h.bus.on('device-status', (ev) => statuses.push(ev))
})
afterAll(async () => {
  await h?.stop()
})

/** The retained status a fresh subscriber is handed. */
async function retainedStatus(id: string, token: string): Promise<Record<string, unknown>> {
  const c = await h.connect('token', token)
  const msg = new Promise<Buffer>((resolve) => c.on('message', (_t, p) => resolve(p)))
  await c.subscribeAsync(`devices/${id}/status`, { qos: 1 })
  const payload = await msg
  await c.endAsync()
  return JSON.parse(payload.toString()) as Record<string, unknown>
}

/** Registers device `id`, connects it, and has it say it is online (a retained status). */
async function onlineDevice(id: string): Promise<MqttClient> {
  const c = await h.connect(id, await h.addDevice(id))
  await c.publishAsync(`devices/${id}/status`, '{"online":true}', { qos: 1, retain: true })
  return c
}

function killSocket(c: MqttClient): void {
  // No DISCONNECT: the network connection just dies (the case a will exists for).
  ;(c.stream as unknown as { destroy(): void }).destroy()
}

describe('retained status and the will', () => {
  it('delivers the will when a device socket dies, retained, through the status route', async () => {
    const id = 'status-will-01'
    const secret = await h.addDevice(id)
    const token = await h.addToken('viewer')
    const c = await h.connect(id, secret, {
      will: { topic: `devices/${id}/status`, payload: Buffer.from('{"online":false,"ts":"2026-01-01T00:00:00Z"}'), qos: 1, retain: true },
    })
    await c.publishAsync(`devices/${id}/status`, '{"online":true,"ts":1767225600000,"fw":"1.2.0"}', { qos: 1, retain: true })
    expect(await retainedStatus(id, token)).toMatchObject({ online: true, fw: '1.2.0' })

    const watcher = await h.connect('token', token)
    const seen: Array<Record<string, unknown>> = []
    watcher.on('message', (_t, p) => seen.push(JSON.parse(p.toString()) as Record<string, unknown>))
    await watcher.subscribeAsync('devices/+/status', { qos: 1 })
    await waitFor(() => seen.length === 1) // the retained online one
    killSocket(c)
    await waitFor(() => seen.length === 2)
    expect(seen[1]).toEqual({ online: false, ts: '2026-01-01T00:00:00Z' })
    expect(await retainedStatus(id, token)).toEqual({ online: false, ts: '2026-01-01T00:00:00Z' })
    const mine = routed.filter((m) => m.device.id === id)
    expect(mine.map((m) => m.retain)).toEqual([true, true])
    expect(mine.map((m) => (JSON.parse(m.payload.toString()) as { online: boolean }).online)).toEqual([true, false])
    // The status route emits device-status (ingest does); the broker adds none of its own.
    expect(statuses.filter((s) => s.device === id)).toEqual([])
    // The will said it: the gateway adds nothing.
    expect(await h.counter('mqtt_gateway_offline_status_total')).toBe(0)
  })

  it('publishes a retained offline status itself when a device without a will dies', async () => {
    const id = 'status-nowill-01'
    const token = await h.addToken('officer')
    const c = await onlineDevice(id)
    killSocket(c)
    await waitFor(async () => (await h.counter('mqtt_gateway_offline_status_total')) === 1)
    const st = await retainedStatus(id, token)
    expect(st.online).toBe(false)
    expect(typeof st.ts).toBe('string')
    await waitFor(() => routed.some((m) => m.device.id === id && m.payload.toString().includes('"online":false')))
  })

  it('does the same when a device is kicked by revocation', async () => {
    const id = 'status-kick-01'
    const token = await h.addToken('viewer')
    const c = await onlineDevice(id)
    const gone = closed(c)
    await h.registry.updateDevice(id, { state: 'disabled' }, { type: 'system', id: 'test' })
    await gone
    await waitFor(async () => (await h.counter('mqtt_gateway_offline_status_total')) === 2)
    expect((await retainedStatus(id, token)).online).toBe(false)
  })

  it('on a clean DISCONNECT: adds an offline status unless the device said so itself', async () => {
    const token = await h.addToken('viewer')
    const before = await h.counter('mqtt_gateway_offline_status_total')
    const c1 = await onlineDevice('status-clean-01')
    await c1.publishAsync('devices/status-clean-01/status', '{"online":false,"uptime":3600}', { qos: 1, retain: true })
    await c1.endAsync()
    const c2 = await onlineDevice('status-clean-02')
    await c2.endAsync()
    await waitFor(async () => (await h.counter('mqtt_gateway_offline_status_total')) === before + 1)
    expect(await retainedStatus('status-clean-01', token)).toEqual({ online: false, uptime: 3600 })
    expect((await retainedStatus('status-clean-02', token)).online).toBe(false)
  })

  it('keeps retained only for status (a retained telemetry is not kept)', async () => {
    const id = 'status-retain-01'
    const secret = await h.addDevice(id)
    const token = await h.addToken('viewer')
    const c = await h.connect(id, secret)
    await c.publishAsync(`devices/${id}/telemetry`, '{"values":{"water_level":1}}', { qos: 1, retain: true })
    await c.publishAsync(`devices/${id}/status`, '{"online":true}', { qos: 1, retain: true })
    const sub = await h.connect('token', token)
    const topics: string[] = []
    sub.on('message', (t) => topics.push(t))
    await sub.subscribeAsync({ [`devices/${id}/telemetry`]: { qos: 1 }, [`devices/${id}/status`]: { qos: 1 } })
    await waitFor(() => topics.includes(`devices/${id}/status`))
    expect(topics).toEqual([`devices/${id}/status`])
  })
})

describe('publish routing', () => {
  it('hands the handler the device, subtopic and payload', async () => {
    const id = 'route-01'
    const secret = await h.addDevice(id)
    const got: DevicePublish[] = []
    telemetry = async (msg) => {
      got.push(msg)
    }
    const c = await h.connect(id, secret)
    await c.publishAsync(`devices/${id}/telemetry`, '{"seq":1,"values":{"water_level":2.31}}', { qos: 1 })
    expect(got).toHaveLength(1)
    expect(got[0]).toMatchObject({ topic: `devices/${id}/telemetry`, subtopic: 'telemetry', qos: 1, retain: false })
    expect(got[0]!.device.id).toBe(id)
    expect(got[0]!.payload.toString()).toBe('{"seq":1,"values":{"water_level":2.31}}')
  })

  it('sends the PUBACK only after the handler resolves', async () => {
    const id = 'route-02'
    const secret = await h.addDevice(id)
    let release!: () => void
    let called = false
    telemetry = () => {
      called = true
      return new Promise<void>((r) => (release = r))
    }
    const c = await h.connect(id, secret)
    let acked = false
    const pub = c.publishAsync(`devices/${id}/telemetry`, '{"seq":2,"values":{"water_level":2}}', { qos: 1 }).then(() => {
      acked = true
    })
    await waitFor(() => called)
    // Give the PUBACK every chance to (wrongly) arrive.
    await new Promise((r) => setTimeout(r, 200))
    expect(acked).toBe(false)
    release()
    await pub
    expect(acked).toBe(true)
  })

  it('a rejected handler means no PUBACK: the connection closes and the client resends', async () => {
    const id = 'route-03'
    const secret = await h.addDevice(id)
    let calls = 0
    telemetry = async () => {
      calls++
      if (calls === 1) throw new Error('store unavailable')
    }
    const c = await mqtt.connectAsync(h.url, {
      username: id,
      password: secret,
      protocolVersion: 4,
      reconnectPeriod: 100,
      clean: false,
      clientId: 'route-03:client',
    })
    let closes = 0
    c.on('close', () => closes++)
    await c.publishAsync(`devices/${id}/telemetry`, '{"seq":3,"values":{"water_level":2}}', { qos: 1 })
    expect(calls).toBe(2)
    expect(closes).toBe(1)
    expect(await h.counter('mqtt_publish_handler_failures_total', { topic: 'telemetry' })).toBe(1)
    await c.endAsync()
  })
})

describe('without a status route', () => {
  it('the broker itself emits device-status for device, will and gateway statuses', async () => {
    const h3 = await startBroker()
    const seen: DeviceStatusEvent[] = []
    h3.bus.on('device-status', (ev) => seen.push(ev))
    try {
      const a = await h3.addDevice('bus-01')
      const b = await h3.addDevice('bus-02')
      const ca = await h3.connect('bus-01', a, {
        will: { topic: 'devices/bus-01/status', payload: Buffer.from('{"online":false,"ts":1767225600000}'), qos: 1, retain: true },
      })
      const cb = await h3.connect('bus-02', b)
      await ca.publishAsync('devices/bus-01/status', '{"online":true,"fw":"2.0"}', { qos: 1, retain: true })
      killSocket(ca)
      killSocket(cb)
      await waitFor(() => seen.length === 3)
      expect(seen.find((e) => e.device === 'bus-01' && e.online)).toMatchObject({ fw: '2.0' })
      expect(seen.find((e) => e.device === 'bus-01' && !e.online)).toMatchObject({ ts: 1767225600000 })
      expect(seen.find((e) => e.device === 'bus-02')).toMatchObject({ online: false })
    } finally {
      await h3.stop()
    }
  })
})

describe('device record freshness', () => {
  it('hands routes the station as it is after a PATCH (refresh interval 0 here)', async () => {
    const h2 = await startBroker({ deviceRefreshMs: 0, routes: { telemetry: async (m) => void seen.push(m.device.station) } })
    const seen: Array<string | null> = []
    try {
      const { secret } = await h2.registry.createDevice(
        { id: 'fresh-01', kind: 'water_level', name: 'Kim Long', station: 'kim-long' },
        { type: 'system', id: 'test' },
      )
      const c = await h2.connect('fresh-01', secret)
      await c.publishAsync('devices/fresh-01/telemetry', '{"values":{"water_level":1}}', { qos: 1 })
      await h2.registry.updateDevice('fresh-01', { station: 'phu-oc' }, { type: 'system', id: 'test' })
      await c.publishAsync('devices/fresh-01/telemetry', '{"values":{"water_level":1}}', { qos: 1 })
      expect(seen).toEqual(['kim-long', 'phu-oc'])
    } finally {
      await h2.stop()
    }
  })

  it('reads the registry once per interval, not per message; concurrent publishes share the read', async () => {
    const seen: Array<string | null> = []
    const h2 = await startBroker({ deviceRefreshMs: 60_000, routes: { telemetry: async (m) => void seen.push(m.device.station) } })
    try {
      const { secret } = await h2.registry.createDevice({ id: 'calm-01', kind: 'water_level', name: 'Calm', station: 'kim-long' }, SYS)
      const c = await h2.connect('calm-01', secret)
      const reads = vi.spyOn(h2.registry, 'getDevice')
      await Promise.all(
        Array.from({ length: 20 }, () => c.publishAsync('devices/calm-01/telemetry', '{"values":{"water_level":1}}', { qos: 1 })),
      )
      expect(seen).toHaveLength(20)
      expect(reads).not.toHaveBeenCalled()
      await c.endAsync()

      const h3 = await startBroker({ deviceRefreshMs: 0, routes: { telemetry: async (m) => void seen.push(m.device.station) } })
      try {
        const { secret: s3 } = await h3.registry.createDevice({ id: 'calm-02', kind: 'water_level', name: 'Calm', station: 'phu-oc' }, SYS)
        const c3 = await h3.connect('calm-02', s3)
        const reads3 = vi.spyOn(h3.registry, 'getDevice')
        // A registry that cannot answer leaves the record as it was: the message is still taken.
        reads3.mockRejectedValueOnce(new Error('registry unreachable'))
        await c3.publishAsync('devices/calm-02/telemetry', '{"values":{"water_level":1}}', { qos: 1 })
        expect(seen.at(-1)).toBe('phu-oc')
        expect(reads3).toHaveBeenCalledTimes(1)
        // And the next read, answered, applies as before.
        await h3.registry.updateDevice('calm-02', { station: 'kim-long' }, SYS)
        await c3.publishAsync('devices/calm-02/telemetry', '{"values":{"water_level":1}}', { qos: 1 })
        expect(seen.at(-1)).toBe('kim-long')
        await c3.endAsync()
      } finally {
        await h3.stop()
      }
    } finally {
      await h2.stop()
    }
  })
})
