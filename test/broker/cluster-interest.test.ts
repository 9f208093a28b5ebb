// A message no other node wants stays off Redis; one another node's client subscribed to goes
// through it, in order, and reaches this node's own subscribers once (docs/operations.md "MQTT
// across nodes", gateway/broker/peer-interest.ts). What crosses Redis is watched by a plain Redis
// subscriber to `devices/*`, as `redis-cli psubscribe` would show it.
import { Redis } from 'ioredis'
import { createRequire } from 'node:module'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dropSubscriber, useBrokerPair } from './cluster-pair.ts'
import type { Harness } from './harness.ts'
import { requireRedis } from '../support/redis.ts'
import { waitFor } from '../support/services.ts'

// The encoding mqemitter-redis puts messages on Redis in.
const msgpack = createRequire(import.meta.url)('msgpack-lite') as { encode(v: unknown): Buffer }

const ok = requireRedis()
const DEVICE = 'pi-gauge-01'
const TOPIC = `devices/${DEVICE}/telemetry`
const HEARTBEAT_MS = 500

describe.skipIf(!ok)('cluster mode: messages go through Redis only when another node wants them', () => {
  const pair = useBrokerPair({ devices: [DEVICE], heartbeatMs: HEARTBEAT_MS })
  let watcher: Redis
  /** Messages seen on Redis, by channel. */
  const onRedis = new Map<string, number>()
  let device: MqttClient
  let seq = 0

  beforeAll(async () => {
    watcher = new Redis(pair.redis.url)
    watcher.on('pmessageBuffer', (_p: Buffer, channel: Buffer) =>
      onRedis.set(channel.toString(), (onRedis.get(channel.toString()) ?? 0) + 1),
    )
    await watcher.psubscribe('devices/*')
    device = await pair.a.connect(DEVICE, pair.secrets[DEVICE]!, { clientId: DEVICE })
  })

  afterAll(() => {
    watcher?.disconnect()
  })

  const routed = (h: Harness, via: 'redis' | 'local') => h.counter('mqtt_messages_routed_total', { via })
  const publish = async (): Promise<number> => {
    seq++
    await device.publishAsync(TOPIC, JSON.stringify({ seq, values: { water_level: 1 + seq / 100 } }), { qos: 1 })
    return seq
  }
  const seqs = (c: MqttClient): number[] => {
    const got: number[] = []
    c.on('message', (_t, p) => got.push((JSON.parse(p.toString()) as { seq: number }).seq))
    return got
  }
  /** Publishes on node A until one of its messages is kept off Redis (node A sure nobody else wants it). */
  async function untilKeptLocal(): Promise<void> {
    await waitFor(
      async () => {
        const before = await routed(pair.a, 'local')
        await publish()
        return (await routed(pair.a, 'local')) > before
      },
      15_000,
      100,
    )
  }

  it('keeps telemetry nobody on another node subscribed to off Redis', async () => {
    await untilKeptLocal()
    const redisBefore = onRedis.get(TOPIC) ?? 0
    const localBefore = await routed(pair.a, 'local')
    for (let i = 0; i < 5; i++) await publish()
    // A message through Redis would be back at the watcher long before node A's next PUBACK.
    await publish()
    expect(onRedis.get(TOPIC) ?? 0).toBe(redisBefore)
    expect((await routed(pair.a, 'local')) - localBefore).toBe(6)
  })

  it("sends through Redis, in order, what another node's integration subscribed to from its SUBACK on, and this node's own subscriber gets each message once", async () => {
    await untilKeptLocal()
    const here = await pair.a.connect('token', pair.token.secret)
    const hereGot = seqs(here)
    await here.subscribeAsync('devices/+/telemetry', { qos: 1 })
    const there = await pair.b.connect('token', pair.token.secret)
    const thereGot = seqs(there)
    await there.subscribeAsync('devices/+/telemetry', { qos: 1 })
    const redisBefore = onRedis.get(TOPIC) ?? 0
    const first = seq + 1
    for (let i = 0; i < 20; i++) await publish()
    const sent = Array.from({ length: 20 }, (_, i) => first + i)
    await waitFor(() => thereGot.length >= 20 && hereGot.length >= 20, 15_000)
    await new Promise((r) => setTimeout(r, 200))
    expect(thereGot).toEqual(sent)
    expect(hereGot).toEqual(sent)
    expect((onRedis.get(TOPIC) ?? 0) - redisBefore).toBe(20)

    // Once node B's integration has gone, node A keeps them to itself again.
    await there.endAsync()
    await untilKeptLocal()
    const local = hereGot.length
    await publish()
    await waitFor(() => hereGot.length === local + 1, 5_000)
    await here.endAsync()
  })

  it('asks the other nodes again once its subscriber connection is back, and meanwhile sends everything through Redis', async () => {
    await untilKeptLocal()
    const reconnectsBefore = await pair.a.counter('redis_reconnects_total', { role: 'subscriber' })
    // Node B's announcement of the new filter is made while node A's subscriber is away: lost to A.
    await dropSubscriber(pair.redis.url, 'node-a')
    const there = await pair.b.connect('token', pair.token.secret)
    const thereGot = seqs(there)
    await there.subscribeAsync(TOPIC, { qos: 1 })
    // Published from the SUBACK on, while node A's subscriber is away, once it is back and node A
    // asks again, and once node A is sure again: every one reaches node B, in order.
    const from = seq + 1
    let backAt = Number.POSITIVE_INFINITY
    while (Date.now() < backAt + 1_000 + 4 * HEARTBEAT_MS) {
      await publish()
      if (
        backAt === Number.POSITIVE_INFINITY &&
        (await pair.a.counter('redis_reconnects_total', { role: 'subscriber' })) > reconnectsBefore
      )
        backAt = Date.now()
      await new Promise((r) => setTimeout(r, 50))
    }
    const last = seq
    await waitFor(() => thereGot.includes(last), 5_000)
    expect(thereGot).toEqual(Array.from({ length: last - from + 1 }, (_, i) => from + i))
    expect(await pair.a.counter('mqtt_peer_filters')).toBeGreaterThanOrEqual(1)
    await there.endAsync()
  })

  it('counts an unreadable announcement, asks its sender again, and meanwhile sends everything through Redis', async () => {
    await untilKeptLocal()
    const invalidBefore = await pair.a.counter('mqtt_interest_invalid_total')
    // As mqemitter-redis puts a message on Redis; `add` should list filters, not be one.
    const topic = '$SYS/node-x~1/interest'
    const payload = Buffer.from(JSON.stringify({ seq: 1, add: 'devices/#' }))
    const raw = new Redis(pair.redis.url)
    try {
      await raw.publish(topic, msgpack.encode({ id: 'test-unreadable-1', msg: { topic, payload } }))
    } finally {
      raw.disconnect()
    }
    await waitFor(async () => (await pair.a.counter('mqtt_interest_invalid_total')) === invalidBefore + 1, 5_000)
    const viaRedis = await routed(pair.a, 'redis')
    const redisBefore = onRedis.get(TOPIC) ?? 0
    await publish()
    expect(await routed(pair.a, 'redis')).toBe(viaRedis + 1)
    await waitFor(() => (onRedis.get(TOPIC) ?? 0) === redisBefore + 1, 5_000)
  })
})
