// Telemetry no node listens to stays off Redis, and a subscriber on any node still gets every
// message published after its SUBACK (gateway/broker/telemetry-interest.ts, docs/operations.md
// "MQTT across nodes"): two brokers on a real redis-server, a Redis client tapping the channels
// mqemitter-redis publishes MQTT messages on (the topic itself).
import { Redis } from 'ioredis'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { QUIET_VALID_MS } from '../../gateway/broker/telemetry-interest.ts'
import { useBrokerPair } from './cluster-pair.ts'
import { requireRedis } from '../support/redis.ts'
import { waitFor } from '../support/services.ts'

const ok = requireRedis()
const DEVICE = 'tl-gauge-01'
const TOPIC = `devices/${DEVICE}/telemetry`

describe.skipIf(!ok)('telemetry across two brokers, routed only while someone listens', () => {
  const pair = useBrokerPair({ devices: [DEVICE], heartbeatMs: 500 })
  const tapped: string[] = []
  let tap: Redis

  beforeAll(async () => {
    tap = new Redis(pair.redis.url)
    tap.on('pmessageBuffer', (_p: Buffer, channel: Buffer) => tapped.push(channel.toString()))
    await tap.psubscribe('devices/*')
  })
  afterAll(() => tap?.disconnect())

  const connect = async (url: string, username: string, password: string, clientId: string, clean = true) => {
    const c = await mqtt.connectAsync(url, { username, password, clientId, clean, reconnectPeriod: 0 })
    pair.clients.push(c)
    return c
  }
  const reading = (seq: number) => JSON.stringify({ seq, values: { water_level: 1 } })
  const notRouted = () => pair.a.counter('mqtt_not_routed_total', { why: 'no_telemetry_subscriber' })

  it('keeps device telemetry off Redis while no node has a telemetry subscriber; the device is still acknowledged', async () => {
    const dev = await connect(pair.a.url, DEVICE, pair.secrets[DEVICE]!, `${DEVICE}:quiet`)
    // The nodes' first questions to Redis: until they are answered everything is routed.
    await waitFor(async () => {
      await dev.publishAsync(TOPIC, reading(0), { qos: 1 })
      return (await notRouted()) > 0
    }, 10_000)
    tapped.length = 0
    const before = await notRouted()
    for (let seq = 1; seq <= 20; seq++) await dev.publishAsync(TOPIC, reading(seq), { qos: 1 })
    expect(await notRouted()).toBe(before + 20)
    expect(tapped.filter((t) => t === TOPIC)).toEqual([])
  })

  it('delivers every message published on one node after a SUBACK on the other, the first subscription of the cluster included', async () => {
    expect(await notRouted()).toBeGreaterThan(0)
    const dev = await connect(pair.a.url, DEVICE, pair.secrets[DEVICE]!, `${DEVICE}:stream`)
    let streaming = true
    let seq = 0
    const sentAt = new Map<number, number>()
    // Published without pause from node A while the subscription is made on node B.
    const stream = (async () => {
      while (streaming) {
        const n = ++seq
        sentAt.set(n, performance.now())
        await dev.publishAsync(TOPIC, reading(n), { qos: 1 })
      }
    })()
    const sub = await connect(pair.b.url, 'token', pair.token.secret, `${pair.token.id}:first`)
    const got = new Set<number>()
    sub.on('message', (_t, p) => got.add((JSON.parse(p.toString()) as { seq: number }).seq))
    // Node B holds the first SUBACK of the cluster until every node routes telemetry: without
    // that, node A would keep what it publishes right after the SUBACK off Redis.
    await sub.subscribeAsync('devices/+/telemetry', { qos: 1 })
    const subacked = performance.now()
    await new Promise((r) => setTimeout(r, 1000))
    streaming = false
    await stream
    const after = [...sentAt].filter(([, at]) => at >= subacked).map(([n]) => n)
    expect(after.length).toBeGreaterThan(10)
    await waitFor(() => after.every((n) => got.has(n)), 10_000).catch(() => undefined)
    expect(after.filter((n) => !got.has(n))).toEqual([])
  })

  it('routes telemetry again only once the last subscriber has left and the nodes asked Redis since', async () => {
    const sub = await connect(pair.b.url, 'token', pair.token.secret, `${pair.token.id}:leaving`)
    await sub.subscribeAsync('devices/+/telemetry', { qos: 1 })
    const dev = await connect(pair.a.url, DEVICE, pair.secrets[DEVICE]!, `${DEVICE}:leaving`)
    const before = await notRouted()
    for (let n = 1; n <= 5; n++) await dev.publishAsync(TOPIC, reading(n), { qos: 1 })
    expect(await notRouted()).toBe(before)
    // Every telemetry subscriber of the suite leaves.
    await Promise.all(pair.clients.filter((c) => c !== dev).map((c) => c.endAsync()))
    // Node B keeps its entry a while (a session coming back finds it), then every node is quiet again.
    await waitFor(
      async () => {
        await dev.publishAsync(TOPIC, reading(0), { qos: 1 })
        return (await notRouted()) > before
      },
      30_000 + QUIET_VALID_MS,
      250,
    )
  }, 60_000)
})
