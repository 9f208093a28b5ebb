// Bounds on subscriptions: filter length (mqtt.maxTopicFilterBytes) and filters per client
// (mqtt.maxSubscriptionsPerClient). A filter past either gets return code 0x80 in the SUBACK
// (clause 3.9.3) and the connection stays open; a refused filter is never kept with a persistent
// session. Real aedes, real mqtt.js.
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBroker, type Harness } from './harness.ts'

let h: Harness

beforeAll(async () => {
  h = await startBroker({ maxSubscriptionsPerClient: 3, maxTopicFilterBytes: 64 })
})
afterAll(async () => {
  await h?.stop()
})

const devices = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => `devices/caps-${from + i}/telemetry`)

/** SUBACK return codes in filter order (mqtt.js rejects when any is 0x80 but keeps the packet). */
async function granted(c: MqttClient, filters: string[]): Promise<number[]> {
  try {
    const res = await c.subscribeAsync(filters, { qos: 1 })
    return res.map((g) => g.qos)
  } catch (err) {
    const packet = (err as { packet?: { granted?: number[] } }).packet
    if (!packet?.granted) throw err
    return packet.granted
  }
}

function persistent(token: string, clientId: string): Promise<MqttClient> {
  return mqtt.connectAsync(h.url, {
    username: 'token',
    password: token,
    clientId,
    clean: false,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  })
}

describe('filters per client (3 here)', () => {
  it('grants three, refuses the rest with 0x80, and the connection stays open', async () => {
    const c = await h.connect('token', await h.addToken('viewer'))
    const before = await h.counter('mqtt_subscribe_refused_total', { reason: 'too_many_subscriptions' })
    expect(await granted(c, devices(5))).toEqual([1, 1, 1, 128, 128])
    expect(await h.counter('mqtt_subscribe_refused_total', { reason: 'too_many_subscriptions' })).toBe(before + 2)
    // One already held may be subscribed again; a new one may not.
    expect(await granted(c, [devices(1)[0]!])).toEqual([1])
    expect(await granted(c, ['alerts/#'])).toEqual([128])
    // Unsubscribing makes room.
    await c.unsubscribeAsync(devices(1)[0]!)
    expect(await granted(c, ['alerts/#'])).toEqual([1])
    expect(c.connected).toBe(true)
    await c.endAsync()
  })

  it('counts per client: a second connection of the same token has its own three', async () => {
    const t = await h.addToken('viewer')
    const a = await h.connect('token', t)
    const b = await h.connect('token', t)
    expect(await granted(a, devices(3))).toEqual([1, 1, 1])
    expect(await granted(b, devices(3, 10))).toEqual([1, 1, 1])
    await Promise.all([a.endAsync(), b.endAsync()])
  })
})

describe('filter length (64 bytes here)', () => {
  it('refuses a longer filter with 0x80 before the ACL reads it', async () => {
    const c = await h.connect('token', await h.addToken('viewer'))
    const long = `alerts/${'x'.repeat(60)}`
    const before = await h.counter('mqtt_subscribe_refused_total', { reason: 'filter_too_long' })
    expect(await granted(c, [long, 'alerts/#'])).toEqual([128, 1])
    expect(await h.counter('mqtt_subscribe_refused_total', { reason: 'filter_too_long' })).toBe(before + 1)
    // Counted in bytes: 30 three-byte characters are 90 bytes.
    expect(await granted(c, [`alerts/${'ạ'.repeat(30)}`])).toEqual([128])
    await c.endAsync()
  })
})

describe('persistent sessions keep only granted filters', () => {
  it('restores the granted filters after a reconnect and none of the refused ones', async () => {
    const { id, secret } = await h.addTokenWithId('viewer')
    const clientId = `${id}:caps`
    const first = await persistent(secret, clientId)
    const long = `alerts/${'y'.repeat(80)}`
    expect(await granted(first, [...devices(5, 20), long, 'devices/+/+'])).toEqual([1, 1, 1, 128, 128, 128, 128])
    await first.endAsync()

    // aedes re-authorises a restored session's filters: a refused filter kept with the session
    // would be refused again (and counted) at every reconnect.
    const before = await h.counter('mqtt_subscribe_refused_total')
    const back = await persistent(secret, clientId)
    const got: string[] = []
    back.on('message', (topic) => got.push(topic))
    for (const t of devices(5, 20)) await h.broker.publish(t.replace('+', 'x'), '{}', { qos: 1, retain: false })
    expect(await h.counter('mqtt_subscribe_refused_total')).toBe(before)
    await new Promise((r) => setTimeout(r, 200))
    // (A message published while aedes restores the session may come twice: QoS 1 is at least once.)
    expect([...new Set(got)].sort()).toEqual(devices(3, 20).sort())
    await back.endAsync()
  })
})
