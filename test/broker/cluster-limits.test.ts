// The per-session queue bound (mqtt.maxQueuedMessages) and the per-identity persistent-session cap
// (mqtt.maxPersistentSessionsPerIdentity) in cluster mode, with two brokers on a real redis-server
// (docs/operations.md "MQTT across nodes"). Each broker has its own registry directory holding the
// same device and token (the first one's directory is copied for the second).
import mqtt, { type MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import { useBrokerPair } from './cluster-pair.ts'
import { requireRedis } from '../support/redis.ts'
import { waitFor } from '../support/services.ts'

const ok = requireRedis()
const DEVICE = 'cl-gauge-01'
/** A device of its own for the takeover test (the others leave sessions of DEVICE behind). */
const MOVER = 'cl-gauge-02'
const MAX_QUEUED = 5
const MAX_SESSIONS = 2

describe.skipIf(!ok)('cluster mode limits (two brokers, one Redis)', () => {
  const pair = useBrokerPair({
    devices: [DEVICE, MOVER],
    heartbeatMs: 500,
    limits: { maxQueuedMessages: MAX_QUEUED, maxPersistentSessionsPerIdentity: MAX_SESSIONS },
  })

  /** A step that must end within 15 s, named when it does not (a hang would otherwise show only as the test's timeout). */
  const step = <T>(what: string, p: Promise<T>): Promise<T> =>
    Promise.race([
      p,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within 15 s`)), 15_000).unref()),
    ])
  const connected = (c: MqttClient, what: string) => step(`${what}: CONNACK`, new Promise((r) => c.once('connect', r)))

  const connect = async (url: string, username: string, password: string, clientId: string, clean: boolean) => {
    const c = mqtt.connect(url, { username, password, clientId, clean, reconnectPeriod: 0 })
    pair.clients.push(c)
    return c
  }

  it('keeps at most mqtt.maxQueuedMessages for a persistent session, oldest dropped and counted, on either node', async () => {
    const id = `${pair.token.id}:bounded`
    const sub = await connect(pair.a.url, 'token', pair.token.secret, id, false)
    await connected(sub, 'persistent subscriber on A')
    await step('SUBACK on A', sub.subscribeAsync(`devices/${DEVICE}/telemetry`, { qos: 1 }))
    await step('DISCONNECT on A', sub.endAsync())
    const dev = await connect(pair.b.url, DEVICE, pair.secrets[DEVICE]!, DEVICE, true)
    await connected(dev, 'device on B')
    for (let seq = 1; seq <= 12; seq++)
      await step(
        `PUBACK ${seq} on B`,
        dev.publishAsync(`devices/${DEVICE}/telemetry`, JSON.stringify({ seq, values: { water_level: 1 } }), { qos: 1 }),
      )
    // aedes queues a QoS 1 message after its PUBACK (lib/handlers/publish.js): wait for the last drops.
    await waitFor(async () => (await pair.b.counter('mqtt_queue_dropped_total')) === 12 - MAX_QUEUED, 20_000)
    const back = await connect(pair.a.url, 'token', pair.token.secret, id, false)
    const got: number[] = []
    back.on('message', (_t, p) => got.push((JSON.parse(p.toString()) as { seq: number }).seq))
    await waitFor(() => got.length >= MAX_QUEUED, 20_000)
    await new Promise((r) => setTimeout(r, 500))
    expect(got).toEqual([8, 9, 10, 11, 12])
  })

  it('caps persistent sessions per identity across nodes (CONNACK 2 past the cap, whichever node)', async () => {
    const refused = (c: MqttClient) =>
      new Promise<number | undefined>((resolve) => {
        c.once('connect', () => resolve(0))
        c.once('error', (err) => resolve((err as { code?: number }).code))
      })
    const dev1 = await connect(pair.a.url, DEVICE, pair.secrets[DEVICE]!, `${DEVICE}:p1`, false)
    expect(await refused(dev1)).toBe(0)
    const dev2 = await connect(pair.b.url, DEVICE, pair.secrets[DEVICE]!, `${DEVICE}:p2`, false)
    expect(await refused(dev2)).toBe(0)
    const dev3 = await connect(pair.a.url, DEVICE, pair.secrets[DEVICE]!, `${DEVICE}:p3`, false)
    expect(await refused(dev3)).toBe(2)
    const dev3b = await connect(pair.b.url, DEVICE, pair.secrets[DEVICE]!, `${DEVICE}:p3`, false)
    expect(await refused(dev3b)).toBe(2)
    // Ending one (clean session 1 with its id) frees a place for a new id, on the other node.
    dev1.end(true)
    const clean1 = await connect(pair.b.url, DEVICE, pair.secrets[DEVICE]!, `${DEVICE}:p1`, true)
    expect(await refused(clean1)).toBe(0)
    const dev3c = await connect(pair.a.url, DEVICE, pair.secrets[DEVICE]!, `${DEVICE}:p3`, false)
    expect(await refused(dev3c)).toBe(0)
    expect(await pair.a.counter('mqtt_connect_refused_total', { reason: 'persistent_session_limit' })).toBe(1)
  })

  it('takes a device over across nodes without publishing its will or an offline status', async () => {
    const id = `${MOVER}:moving`
    const status = `devices/${MOVER}/status`
    const will = JSON.stringify({ online: false, ts: new Date().toISOString(), fw: 'will' })
    const sub = await connect(pair.b.url, 'token', pair.token.secret, `${pair.token.id}:watch`, true)
    const got: string[] = []
    sub.on('message', (_t, p) => got.push(p.toString()))
    await connected(sub, 'status watcher on B')
    await step('SUBACK on B', sub.subscribeAsync(status, { qos: 1 }))
    const willOpt = { topic: status, payload: Buffer.from(will), qos: 1 as const, retain: true }
    /** The mover's session (one client id, with its will) on the node at `url`. */
    const moverOn = (url: string) => {
      const c = mqtt.connect(url, { username: MOVER, password: pair.secrets[MOVER]!, clientId: id, reconnectPeriod: 0, will: willOpt })
      pair.clients.push(c)
      return c
    }
    const onA = moverOn(pair.a.url)
    await connected(onA, 'mover on A')
    const online = JSON.stringify({ online: true, ts: new Date().toISOString() })
    await onA.publishAsync(status, online, { qos: 1, retain: true })
    await waitFor(() => got.includes(online), 10_000)
    const closedOnA = new Promise<void>((r) => onA.once('close', () => r()))
    const onB = moverOn(pair.b.url)
    await connected(onB, 'mover on B')
    await step('the session on A closed by the takeover', closedOnA) // MQTT-3.1.4-2
    // Long enough for node A's will and offline status to have reached node B had they been sent.
    const marker = JSON.stringify({ online: true, ts: new Date().toISOString(), fw: 'marker' })
    await onB.publishAsync(status, marker, { qos: 1, retain: true })
    await waitFor(() => got.includes(marker), 10_000)
    await new Promise((r) => setTimeout(r, 1_000))
    expect(got.filter((p) => (JSON.parse(p) as { online: boolean }).online === false)).toEqual([])
  })
})
