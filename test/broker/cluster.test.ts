// The MQTT broker shared by several gateway nodes through a real redis-server (docs/operations.md
// "MQTT across nodes"): real `iocgw start` child processes, each with its own data directory
// (the registry of each holds the same device and token: one seeded registry is copied into each
// directory before the nodes start), and real MQTT clients.
import { cpSync } from 'node:fs'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../gateway/config/load.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import { openTimeSeriesStore } from '../../gateway/store/index.ts'
import { spawnGateway, stopGateway, type GatewayProcess } from '../support/gateway-process.ts'
import { startRedis, requireRedis, type RedisServer } from '../support/redis.ts'
import { tempDir, waitFor } from '../support/services.ts'

const ok = requireRedis()
const ADMIN = 'cluster-admin-token-0123456789'
const DEVICE = 'kim-long-01'
/** The device of the will test, whose sessions no other test leaves behind. */
const WILL_DEVICE = 'kim-long-02'
// Short enough to keep the will test quick, long enough that a loaded box (two test files, Chromium)
// does not miss 3 heartbeats in a row and declare a live node dead.
const HEARTBEAT_MS = 1000

interface Msg {
  topic: string
  payload: string
  retain: boolean
}

function connect(url: string, username: string, password: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { username, password, reconnectPeriod: 0, connectTimeout: 30_000, ...opts })
    c.once('connect', () => resolve(c))
    c.once('error', (err) => {
      c.end(true)
      reject(err)
    })
  })
}

/** The CONNACK, or why there was none. */
function connacked(c: MqttClient): Promise<{ sessionPresent: boolean }> {
  return new Promise((resolve, reject) => {
    c.once('connect', resolve)
    c.once('error', reject)
    c.once('close', () => reject(new Error('closed before CONNACK')))
  })
}

function collect(c: MqttClient): Msg[] {
  const got: Msg[] = []
  c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }))
  return got
}

const telemetry = (seq: number) => JSON.stringify({ seq, values: { water_level: 1 + seq / 100 } })

describe.skipIf(!ok)('MQTT across gateway nodes (Redis)', () => {
  let redis: RedisServer
  const dirs = { seed: tempDir(), a: tempDir(), b: tempDir() }
  let a: GatewayProcess
  let b: GatewayProcess
  let deviceSecret = ''
  let willSecret = ''
  let token = { id: '', secret: '' }
  const clients: MqttClient[] = []
  const track = (c: MqttClient) => (clients.push(c), c)

  const node = (dir: string, id: string) =>
    spawnGateway({
      dataDir: dir,
      env: {
        IOC_ADMIN_TOKEN: ADMIN,
        IOC_NODE_ID: id,
        IOC_REDIS_URL: redis.url,
        IOC_REDIS_HEARTBEAT_MS: String(HEARTBEAT_MS),
      },
    })

  beforeAll(async () => {
    redis = await startRedis()
    const registry = openRegistry(dirs.seed.path)
    deviceSecret = (await registry.createDevice({ id: DEVICE, kind: 'water_level', name: 'Trạm Kim Long' }, { type: 'system', id: 'test' }))
      .secret
    willSecret = (
      await registry.createDevice({ id: WILL_DEVICE, kind: 'water_level', name: 'Trạm Kim Long 2' }, { type: 'system', id: 'test' })
    ).secret
    const t = await registry.createToken({ role: 'officer', name: 'integration' }, { type: 'system', id: 'test' })
    token = { id: t.token.id, secret: t.secret }
    await registry.close()
    // The same registry (and its server key, which the secrets' HMAC uses) in each node's own directory.
    cpSync(dirs.seed.path, dirs.a.path, { recursive: true })
    cpSync(dirs.seed.path, dirs.b.path, { recursive: true })
    ;[a, b] = await Promise.all([node(dirs.a.path, 'node-a'), node(dirs.b.path, 'node-b')])
  }, 120_000)

  afterEach(() => {
    for (const c of clients.splice(0)) c.end(true)
  })

  afterAll(async () => {
    for (const c of clients) c.end(true)
    await Promise.all([a, b].filter(Boolean).map((g) => stopGateway(g)))
    await redis?.stop()
    for (const d of Object.values(dirs)) d.remove()
  }, 60_000)

  it('delivers a QoS 1 telemetry message published on node A to an integration subscribed on node B', async () => {
    const sub = track(await connect(b.mqttUrl, 'token', token.secret, { clientId: `${token.id}:live` }))
    const got = collect(sub)
    await sub.subscribeAsync(`devices/${DEVICE}/telemetry`, { qos: 1 })
    const dev = track(await connect(a.mqttUrl, DEVICE, deviceSecret, { clientId: `${DEVICE}:t1` }))
    await dev.publishAsync(`devices/${DEVICE}/telemetry`, telemetry(1), { qos: 1 })
    await waitFor(() => got.length === 1, 20_000)
    expect(got[0]).toMatchObject({ topic: `devices/${DEVICE}/telemetry`, payload: telemetry(1) })
    dev.end(true)
    sub.end(true)
  })

  it(
    'keeps a persistent session across nodes: queued while away, delivered on reconnecting to the other node',
    { timeout: 90_000 },
    async () => {
      const id = `${token.id}:persist`
      const first = track(await connect(a.mqttUrl, 'token', token.secret, { clientId: id, clean: false }))
      await first.subscribeAsync(`devices/${DEVICE}/telemetry`, { qos: 1 })
      await first.endAsync()
      const dev = track(await connect(b.mqttUrl, DEVICE, deviceSecret, { clientId: `${DEVICE}:t2` }))
      for (let seq = 10; seq < 15; seq++) await dev.publishAsync(`devices/${DEVICE}/telemetry`, telemetry(seq), { qos: 1 })
      const back = track(
        mqtt.connect(b.mqttUrl, { username: 'token', password: token.secret, clientId: id, clean: false, reconnectPeriod: 0 }),
      )
      const got = collect(back)
      const connack = await connacked(back)
      expect(connack.sessionPresent).toBe(true)
      await waitFor(() => got.length >= 5, 30_000).catch((err: Error) => {
        throw new Error(`${err.message}; got ${JSON.stringify(got)}`)
      })
      // Every queued message (aedes queues a QoS 1 message after its PUBACK, so the last ones may
      // come live rather than from the queue, in either order).
      expect([...new Set(got.map((m) => m.payload))].sort()).toEqual([10, 11, 12, 13, 14].map(telemetry).sort())
      back.end(true)
      dev.end(true)
    },
  )

  it('takes over a client id across nodes: the connection on node A is closed and the session continues on B', async () => {
    const id = `${token.id}:takeover`
    const onA = track(await connect(a.mqttUrl, 'token', token.secret, { clientId: id, clean: false }))
    await onA.subscribeAsync(`devices/${DEVICE}/telemetry`, { qos: 1 })
    const closedOnA = new Promise<void>((resolve) => onA.once('close', () => resolve()))
    const onB = track(
      mqtt.connect(b.mqttUrl, { username: 'token', password: token.secret, clientId: id, clean: false, reconnectPeriod: 0 }),
    )
    const got = collect(onB)
    const connack = await connacked(onB)
    await closedOnA // MQTT-3.1.4-2
    expect(connack.sessionPresent).toBe(true)
    // The session's subscription, made on node A, now delivers on node B without subscribing again.
    const dev = track(await connect(a.mqttUrl, DEVICE, deviceSecret, { clientId: `${DEVICE}:t3` }))
    await dev.publishAsync(`devices/${DEVICE}/telemetry`, telemetry(20), { qos: 1 })
    await waitFor(() => got.some((m) => m.payload === telemetry(20)), 20_000)
    expect(onA.connected).toBe(false)
    onB.end(true)
    dev.end(true)
  })

  it('serves a retained status set through node A to a subscriber on node B', async () => {
    const dev = track(await connect(a.mqttUrl, DEVICE, deviceSecret, { clientId: `${DEVICE}:t4` }))
    const status = JSON.stringify({ online: true, ts: new Date().toISOString(), fw: 'retained-1' })
    await dev.publishAsync(`devices/${DEVICE}/status`, status, { qos: 1, retain: true })
    const sub = track(await connect(b.mqttUrl, 'token', token.secret, { clientId: `${token.id}:retained` }))
    const got = collect(sub)
    await sub.subscribeAsync(`devices/+/status`, { qos: 1 })
    await waitFor(() => got.some((m) => m.payload === status), 20_000)
    expect(got.find((m) => m.payload === status)?.retain).toBe(true)
    await dev.endAsync() // clean DISCONNECT: the will is discarded
    sub.end(true)
  })

  it('publishes, from node B, the will of a device whose node A was killed, and node B stores it offline', async () => {
    const sub = track(await connect(b.mqttUrl, 'token', token.secret, { clientId: `${token.id}:wills` }))
    const got = collect(sub)
    await sub.subscribeAsync(`devices/${WILL_DEVICE}/status`, { qos: 1 })
    const will = JSON.stringify({ online: false, ts: new Date().toISOString(), fw: 'will-1' })
    const dev = track(
      await connect(a.mqttUrl, WILL_DEVICE, willSecret, {
        clientId: WILL_DEVICE,
        will: { topic: `devices/${WILL_DEVICE}/status`, payload: Buffer.from(will), qos: 1, retain: true },
      }),
    )
    await dev.publishAsync(`devices/${WILL_DEVICE}/status`, JSON.stringify({ online: true, ts: new Date().toISOString() }), {
      qos: 1,
      retain: true,
    })
    const killedAt = Date.now()
    a.child.kill('SIGKILL')
    await a.exited
    await waitFor(() => got.some((m) => m.payload === will), 30_000, 50).catch((err: Error) => {
      throw new Error(`${err.message}; node B said:\n${b.output()}\ngot: ${JSON.stringify(got)}`)
    })
    const took = Date.now() - killedAt
    // The documented bound is about 7 heartbeats (docs/operations.md); generous margin for a loaded box.
    expect(took).toBeLessThan(7 * HEARTBEAT_MS + 20_000)
    // Node B's own store says offline: stop B (to read its SQLite store) and query it.
    await stopGateway(b)
    const config = loadConfig({ file: undefined, env: { IOC_DATA_DIR: dirs.b.path } })
    const store = await openTimeSeriesStore({
      influxUrl: undefined,
      influx: {},
      sqlite: config.timeseries,
      dataDir: dirs.b.path,
      logger: createLogger('silent'),
      metrics: new Metrics({ defaults: false }),
    } as Parameters<typeof openTimeSeriesStore>[0])
    const points = await store.queryPoints({
      measurement: 'device_status',
      where: { device: WILL_DEVICE },
      from: 0,
      to: Date.now() + 1000,
      order: 'desc',
      limit: 1,
    })
    await store.close()
    expect([0, false]).toContain(points[0]?.fields.online)
  }, 90_000)
})
