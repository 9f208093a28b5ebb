// The ACL matrix on a live broker: devices × topics × publish/subscribe, and integration tokens.
// Every refusal must be refused on the wire AND counted by reason.
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../support/services.ts'
import { closed, startBroker, type Harness } from './harness.ts'

let h: Harness
const A = 'acl-dev-a'
const B = 'acl-dev-b'
let secretA: string
let viewer: string
let officer: string

beforeAll(async () => {
  h = await startBroker({ routes: { telemetry: async () => {}, status: async () => {}, frames: async () => {}, cmd: async () => {} } })
  secretA = await h.addDevice(A)
  await h.addDevice(B)
  viewer = await h.addToken('viewer')
  officer = await h.addToken('officer')
})
afterAll(async () => {
  await h?.stop()
})

/** Publishes QoS 1 on a fresh connection; 'acked' or 'closed' (a refused PUBLISH closes it). */
async function tryPublish(user: string, pass: string, topic: string): Promise<'acked' | 'closed'> {
  const c = await h.connect(user, pass)
  const gone = closed(c).then(() => 'closed' as const)
  const acked = c.publishAsync(topic, Buffer.from('{"values":{"water_level":1.5}}'), { qos: 1 }).then(
    () => 'acked' as const,
    () => 'closed' as const,
  )
  const result = await Promise.race([acked, gone])
  await c.endAsync(true).catch(() => {})
  return result
}

/** SUBACK return codes in filter order (mqtt.js rejects when any is 0x80 but keeps the packet). */
async function subscribeCodes(c: MqttClient, filters: string[]): Promise<number[]> {
  const map = Object.fromEntries(filters.map((f) => [f, { qos: 1 as const }]))
  try {
    const granted = await c.subscribeAsync(map)
    return granted.map((g) => g.qos)
  } catch (err) {
    const packet = (err as { packet?: { granted?: number[] } }).packet
    if (!packet?.granted) throw err
    return packet.granted
  }
}

const devicePublishAllowed = [
  `devices/${A}/telemetry`,
  `devices/${A}/status`,
  `devices/${A}/frames`,
  `devices/${A}/frames/1700000000000`,
  `devices/${A}/cmd/ack`,
]
const devicePublishRefused: Array<[string, string]> = [
  [`devices/${B}/telemetry`, 'other_device'],
  [`devices/${B}/status`, 'other_device'],
  [`devices/${A}/config`, 'not_permitted'],
  [`devices/${A}/cmd`, 'not_permitted'],
  [`devices/${A}/frames/not-a-time`, 'not_permitted'],
  ['alerts/water_level/kim-long', 'not_permitted'],
  ['$SYS/broker/load', 'reserved_topic'],
  [`devices/${A}/#`, 'wildcard'],
  ['devices/+/telemetry', 'wildcard'],
  ['#', 'wildcard'],
]

describe('device publish', () => {
  it.each(devicePublishAllowed)('allows and acknowledges %s', async (topic) => {
    expect(await tryPublish(A, secretA, topic)).toBe('acked')
  })

  it('refuses everything outside docs/mqtt.md by closing the connection, and counts each by reason', async () => {
    const expected: Record<string, number> = {}
    for (const [topic, reason] of devicePublishRefused) {
      expect({ topic, result: await tryPublish(A, secretA, topic) }).toEqual({ topic, result: 'closed' })
      expected[reason] = (expected[reason] ?? 0) + 1
    }
    for (const [reason, n] of Object.entries(expected)) {
      await waitFor(async () => (await h.counter('mqtt_publish_refused_total', { reason })) === n)
    }
    expect(await h.counter('mqtt_publish_refused_total')).toBe(devicePublishRefused.length)
  })

  it('counts accepted messages by kind of topic', async () => {
    expect(await h.counter('mqtt_messages_in_total', { topic: 'frames' })).toBeGreaterThanOrEqual(2)
    expect(await h.counter('mqtt_messages_in_total', { topic: 'cmd' })).toBeGreaterThanOrEqual(1)
  })
})

describe('device subscribe', () => {
  it('grants own config and cmd, answers 0x80 to everything else, and counts it', async () => {
    const before = await h.counter('mqtt_subscribe_refused_total')
    const c = await h.connect(A, secretA)
    const allowed = [`devices/${A}/config`, `devices/${A}/cmd`]
    const refused = [
      '#',
      '+/+/+',
      '$SYS/#',
      'devices/#',
      'devices/+/config',
      `devices/${A}/#`,
      `devices/${B}/config`,
      `devices/${B}/cmd`,
      `devices/${A}/telemetry`,
      'alerts/#',
    ]
    const codes = await subscribeCodes(c, [...allowed, ...refused])
    expect(codes).toEqual([1, 1, ...refused.map(() => 128)])
    expect(c.connected).toBe(true)
    expect((await h.counter('mqtt_subscribe_refused_total')) - before).toBe(refused.length)
    expect(await h.counter('mqtt_subscribe_refused_total', { reason: 'reserved_topic' })).toBeGreaterThanOrEqual(1)
    expect(await h.counter('mqtt_subscribe_refused_total', { reason: 'other_device' })).toBeGreaterThanOrEqual(2)
  })

  it("receives its own config from the gateway but never another device's", async () => {
    const c = await h.connect(A, secretA)
    const got: string[] = []
    c.on('message', (t) => got.push(t))
    await c.subscribeAsync(`devices/${A}/config`, { qos: 1 })
    await h.broker.publish(`devices/${B}/config`, '{"interval_s":60}', { qos: 1, retain: true })
    await h.broker.publish(`devices/${A}/config`, '{"interval_s":30}', { qos: 1, retain: true })
    await waitFor(() => got.includes(`devices/${A}/config`))
    expect(got).toEqual([`devices/${A}/config`])
  })
})

describe('integration tokens', () => {
  it('subscribe to alerts, telemetry and status only; everything else 0x80 and counted', async () => {
    const before = await h.counter('mqtt_subscribe_refused_total')
    const c = await h.connect('token', viewer)
    const allowed = ['alerts/#', 'alerts/water_level/+', 'devices/+/telemetry', 'devices/+/status', `devices/${A}/telemetry`]
    const refused = [
      '#',
      '$SYS/#',
      'devices/#',
      'devices/+/+',
      'devices/+/frames',
      `devices/${A}/frames/#`,
      `devices/${A}/cmd`,
      `devices/${A}/config`,
      '+/telemetry',
    ]
    const codes = await subscribeCodes(c, [...allowed, ...refused])
    expect(codes).toEqual([...allowed.map(() => 1), ...refused.map(() => 128)])
    expect((await h.counter('mqtt_subscribe_refused_total')) - before).toBe(refused.length)
  })

  it('read telemetry as it arrives, but never frames', async () => {
    const c = await h.connect('token', officer)
    const got: string[] = []
    c.on('message', (t) => got.push(t))
    await c.subscribeAsync({ 'devices/+/telemetry': { qos: 1 }, 'alerts/#': { qos: 1 } })
    const d = await h.connect(A, secretA)
    await d.publishAsync(`devices/${A}/frames`, Buffer.from([0xff, 0xd8, 0xff]), { qos: 1 })
    await d.publishAsync(`devices/${A}/telemetry`, '{"values":{"water_level":2}}', { qos: 1 })
    await h.broker.publish('alerts/water_level/kim-long', '{"state":"open"}', { qos: 1, retain: false })
    await waitFor(() => got.length >= 2)
    expect(got.sort()).toEqual(['alerts/water_level/kim-long', `devices/${A}/telemetry`])
  })

  it('publish nothing: refused (connection closed) and counted as read_only', async () => {
    const before = await h.counter('mqtt_publish_refused_total', { reason: 'read_only' })
    expect(await tryPublish('token', viewer, 'alerts/water_level/x')).toBe('closed')
    expect(await tryPublish('token', viewer, `devices/${A}/telemetry`)).toBe('closed')
    expect(await h.counter('mqtt_publish_refused_total', { reason: 'read_only' })).toBe(before + 2)
  })
})
