// Redis pub/sub delivers at most once: what is published while a node's subscriber connection is
// away never reaches that node (docs/operations.md "MQTT across nodes"). Two such messages used to
// leave a client waiting for ever: the node's own announcement of a new subscription (no SUBACK)
// and another node's `$SYS/{id}/new/clients` (a session taken over there stayed open here); and
// another node's announcements of subscriptions added or removed left node A's routing table
// wrong (messages not queued for a session, or queued for one that unsubscribed). Each is
// provoked here by dropping node A's subscriber connection (CLIENT KILL) just before it. The
// record of each session's node that the check after a loss reads is tested here too.
import { Redis } from 'ioredis'
import mqtt, { type MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import { clientNodeKey } from '../../gateway/broker/cluster.ts'
import { dropSubscriber, useBrokerPair } from './cluster-pair.ts'
import { requireRedis } from '../support/redis.ts'
import { waitFor } from '../support/services.ts'

const ok = requireRedis()
const DEVICE = 'pl-gauge-01'
const MOVER = 'pl-gauge-02'

describe.skipIf(!ok)('cluster mode: pub/sub messages lost while a subscriber connection is away', () => {
  const pair = useBrokerPair({ devices: [DEVICE, MOVER], heartbeatMs: 500 })

  const step = <T>(what: string, p: Promise<T>): Promise<T> =>
    Promise.race([
      p,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within 15 s`)), 15_000).unref()),
    ])
  const client = (url: string, username: string, password: string, clientId: string, clean: boolean): MqttClient => {
    const c = mqtt.connect(url, { username, password, clientId, clean, reconnectPeriod: 0 })
    pair.clients.push(c)
    return c
  }
  const connected = (c: MqttClient, what: string) => step(`${what}: CONNACK`, new Promise((r) => c.once('connect', r)))

  /** The device connects to the node at `url` and publishes reading `seq` at QoS 1. */
  async function publishReading(url: string, node: string, seq: number): Promise<void> {
    const dev = client(url, DEVICE, pair.secrets[DEVICE]!, DEVICE, true)
    await connected(dev, `device on ${node}`)
    await step(
      `PUBACK on ${node}`,
      dev.publishAsync(`devices/${DEVICE}/telemetry`, JSON.stringify({ seq, values: { water_level: 1 } }), { qos: 1 }),
    )
  }

  /** The persistent session `id` back on the node at `url`: the first reading sequence numbers it is given. */
  async function queuedFor(url: string, id: string): Promise<number[]> {
    const back = client(url, 'token', pair.token.secret, id, false)
    const got: number[] = []
    back.on('message', (_t, p) => got.push((JSON.parse(p.toString()) as { seq: number }).seq))
    await waitFor(() => got.length >= 1, 15_000)
    return got
  }

  /** The persistent session `id` back on the node at `url`: what it is given within a second of its CONNACK. */
  async function nothingQueuedFor(url: string, id: string): Promise<number[]> {
    const back = client(url, 'token', pair.token.secret, id, false)
    const got: number[] = []
    back.on('message', (_t, p) => got.push((JSON.parse(p.toString()) as { seq: number }).seq))
    await connected(back, `${id} back`)
    await new Promise((r) => setTimeout(r, 1_000))
    return got
  }

  /** A session `id` on node A, taken over on node B while A's subscriber is away, is closed on A (MQTT-3.1.4-2). */
  async function takeoverMissedByA(username: string, password: string, id: string): Promise<void> {
    const onA = client(pair.a.url, username, password, id, true)
    await connected(onA, `${id} on A`)
    const closedOnA = new Promise<void>((r) => onA.once('close', () => r()))
    await dropSubscriber(pair.redis.url, 'node-a')
    const onB = client(pair.b.url, username, password, id, true)
    await connected(onB, `${id} on B`)
    await step(`the session of ${id} on A closed by the takeover`, closedOnA)
    expect(onB.connected).toBe(true)
  }

  it('answers a SUBSCRIBE whose announcement was lost, and the subscription works', async () => {
    const id = `${pair.token.id}:lost-announcement`
    const sub = client(pair.a.url, 'token', pair.token.secret, id, false)
    await connected(sub, 'persistent subscriber on A')
    await dropSubscriber(pair.redis.url, 'node-a')
    await step('SUBACK on A', sub.subscribeAsync(`devices/${DEVICE}/telemetry`, { qos: 1 }))
    await step('DISCONNECT on A', sub.endAsync())
    await publishReading(pair.b.url, 'B', 1)
    expect(await queuedFor(pair.a.url, id)).toEqual([1])
    expect(await pair.a.counter('redis_reconnects_total', { role: 'subscriber' })).toBeGreaterThanOrEqual(1)
  })

  it("queues for an offline session whose subscription another node announced while this node's subscriber was away", async () => {
    const id = `${pair.token.id}:missed-announcement`
    const sub = client(pair.b.url, 'token', pair.token.secret, id, false)
    await connected(sub, 'persistent subscriber on B')
    const reconnects = await pair.a.counter('redis_reconnects_total', { role: 'subscriber' })
    await dropSubscriber(pair.redis.url, 'node-a')
    await step('SUBACK on B', sub.subscribeAsync(`devices/${DEVICE}/telemetry`, { qos: 1 }))
    await step('DISCONNECT on B', sub.endAsync())
    // Node A's subscriber back, and a moment for what it does then.
    await waitFor(async () => (await pair.a.counter('redis_reconnects_total', { role: 'subscriber' })) > reconnects, 15_000)
    await new Promise((r) => setTimeout(r, 2_000))
    await publishReading(pair.a.url, 'A', 7)
    expect(await queuedFor(pair.b.url, id)).toEqual([7])
  })

  it('closes a session taken over on another node while its subscriber connection was away', async () => {
    await takeoverMissedByA(MOVER, pair.secrets[MOVER]!, `${MOVER}:moving`)
  })

  it("closes an integration's session taken over on another node while its subscriber connection was away", async () => {
    await takeoverMissedByA('token', pair.token.secret, `${pair.token.id}:moving`)
  })

  it("stops queuing for a subscription removed on another node while this node's subscriber was away", async () => {
    const gone = `${pair.token.id}:unsubscribed`
    const kept = `${pair.token.id}:still-subscribed`
    const topic = `devices/${DEVICE}/telemetry`
    // Both subscribed while node A heard the announcements: its routing table has both.
    for (const id of [gone, kept]) {
      const sub = client(pair.b.url, 'token', pair.token.secret, id, false)
      await connected(sub, `${id} on B`)
      await step(`SUBACK on B for ${id}`, sub.subscribeAsync(topic, { qos: 1 }))
      await step(`DISCONNECT on B for ${id}`, sub.endAsync())
    }
    const back = client(pair.b.url, 'token', pair.token.secret, gone, false)
    await connected(back, `${gone} back on B`)
    const reconnects = await pair.a.counter('redis_reconnects_total', { role: 'subscriber' })
    const logged = pair.a.lines.length
    await dropSubscriber(pair.redis.url, 'node-a')
    await step('UNSUBACK on B', back.unsubscribeAsync(topic))
    await step(`DISCONNECT on B for ${gone}`, back.endAsync())
    await waitFor(async () => (await pair.a.counter('redis_reconnects_total', { role: 'subscriber' })) > reconnects, 15_000)
    await new Promise((r) => setTimeout(r, 2_000))
    await publishReading(pair.a.url, 'A', 9)
    // Node A routed the reading by its table (the session still subscribed has it)...
    expect(await queuedFor(pair.b.url, kept)).toEqual([9])
    // ...and no longer holds the removed subscription, whose session would get a message it unsubscribed from.
    expect(await nothingQueuedFor(pair.b.url, gone)).toEqual([])
    // Taken out by the check after the loss: the UNSUBSCRIBE's announcement did not reach node A.
    const reloaded = pair.a.lines.slice(logged).filter((l) => l.includes('"event":"mqtt_subscriptions_reloaded"'))
    expect(reloaded.some((l) => l.includes('"removed":1'))).toBe(true)
  })

  it("keeps an integration's record of its node while its session lasts, and a device's after", async () => {
    const r = new Redis(pair.redis.url)
    try {
      const recordOf = (id: string) => r.get(clientNodeKey(id))
      const ended = (c: MqttClient, what: string) => step(`DISCONNECT of ${what}`, c.endAsync())
      // Ended on its node: forgotten (integrations may take a new client id at each connect).
      const brief = `${pair.token.id}:brief`
      const c = client(pair.a.url, 'token', pair.token.secret, brief, true)
      await connected(c, `${brief} on A`)
      await waitFor(async () => (await recordOf(brief)) !== null, 15_000)
      const runA = await recordOf(brief)
      await ended(c, brief)
      await waitFor(async () => (await recordOf(brief)) === null, 15_000)
      // Taken over on node B: the end of the session on A leaves B's record.
      const moving = `${pair.token.id}:record-moves`
      const onA = client(pair.a.url, 'token', pair.token.secret, moving, true)
      await connected(onA, `${moving} on A`)
      await waitFor(async () => (await recordOf(moving)) === runA, 15_000)
      const closedOnA = new Promise<void>((res) => onA.once('close', () => res()))
      const onB = client(pair.b.url, 'token', pair.token.secret, moving, true)
      await connected(onB, `${moving} on B`)
      await step(`${moving} on A closed by the takeover`, closedOnA)
      await new Promise((res) => setTimeout(res, 1_000))
      const runB = await recordOf(moving)
      expect(runB).not.toBeNull()
      expect(runB).not.toBe(runA)
      // A device's record outlives its session: its next session deletes the will this one may leave.
      const dev = client(pair.a.url, MOVER, pair.secrets[MOVER]!, MOVER, true)
      await connected(dev, 'device on A')
      await ended(dev, 'the device')
      await new Promise((res) => setTimeout(res, 1_000))
      expect(await recordOf(MOVER)).toBe(runA)
    } finally {
      r.disconnect()
    }
  })
})
