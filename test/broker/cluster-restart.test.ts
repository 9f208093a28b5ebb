// A node killed and started again under the same node id (docs/operations.md "MQTT across
// nodes"): it publishes the wills its previous run left in Redis at start, and keeps what its
// previous run queued there for offline persistent sessions.
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import { spawnGateway, stopGateway, type GatewayProcess } from '../support/gateway-process.ts'
import { startRedis, requireRedis, type RedisServer } from '../support/redis.ts'
import { tempDir, waitFor } from '../support/services.ts'

const ok = requireRedis()
const DEVICE = 'restart-gauge-01'

describe.skipIf(!ok)('a cluster node restarted under the same id', () => {
  let redis: RedisServer
  const dir = tempDir()
  let gw: GatewayProcess | undefined
  const clients: MqttClient[] = []
  let secret = ''
  let token = { id: '', secret: '' }

  // A heartbeat of a minute: no sweep would publish the wills during this test.
  const start = () =>
    spawnGateway({
      dataDir: dir.path,
      env: {
        IOC_ADMIN_TOKEN: 'restart-admin-token-0123456',
        IOC_NODE_ID: 'node-r',
        IOC_REDIS_URL: redis.url,
        IOC_REDIS_HEARTBEAT_MS: '60000',
      },
    })

  beforeAll(async () => {
    redis = await startRedis()
    const registry = openRegistry(dir.path)
    secret = (await registry.createDevice({ id: DEVICE, kind: 'water_level', name: 'Trạm' }, { type: 'system', id: 'test' })).secret
    const t = await registry.createToken({ role: 'viewer', name: 'reader' }, { type: 'system', id: 'test' })
    token = { id: t.token.id, secret: t.secret }
    await registry.close()
  })

  afterAll(async () => {
    for (const c of clients) c.end(true)
    if (gw) await stopGateway(gw)
    await redis?.stop()
    dir.remove()
  }, 30_000)

  it("publishes the previous run's wills when it starts again", async () => {
    gw = await start()
    const will = JSON.stringify({ online: false, ts: new Date().toISOString(), fw: 'previous-run' })
    const dev = mqtt.connect(gw.mqttUrl, {
      username: DEVICE,
      password: secret,
      clientId: DEVICE,
      reconnectPeriod: 0,
      will: { topic: `devices/${DEVICE}/status`, payload: Buffer.from(will), qos: 1, retain: true },
    })
    clients.push(dev)
    await new Promise((r) => dev.once('connect', r))
    await dev.publishAsync(`devices/${DEVICE}/status`, JSON.stringify({ online: true, ts: new Date().toISOString() }), {
      qos: 1,
      retain: true,
    })
    gw.child.kill('SIGKILL')
    await gw.exited
    dev.end(true)

    gw = await start()
    const sub = mqtt.connect(gw.mqttUrl, { username: 'token', password: token.secret, clientId: `${token.id}:r`, reconnectPeriod: 0 })
    clients.push(sub)
    const got: string[] = []
    sub.on('message', (_t, p) => got.push(p.toString()))
    await new Promise((r) => sub.once('connect', r))
    await sub.subscribeAsync(`devices/${DEVICE}/status`, { qos: 1 })
    // The retained status is the will (published at start), not the online status of the previous run.
    await waitFor(() => got.length > 0, 20_000)
    expect(got[0]).toBe(will)
  }, 120_000)

  it('keeps what its previous run queued for an offline persistent session', async () => {
    if (gw) await stopGateway(gw)
    gw = await start()
    const subOpts = { username: 'token', password: token.secret, clientId: `${token.id}:q`, clean: false, reconnectPeriod: 0 }
    const first = await mqtt.connectAsync(gw.mqttUrl, subOpts)
    clients.push(first)
    await first.subscribeAsync(`devices/${DEVICE}/telemetry`, { qos: 1 })
    await first.endAsync()
    const publish = async (url: string, seqs: number[]) => {
      const dev = await mqtt.connectAsync(url, { username: DEVICE, password: secret, clientId: DEVICE, reconnectPeriod: 0 })
      for (const seq of seqs) {
        const reading = [{ ts: Date.now() - 1000 + seq, seq, values: { water_level: seq / 10 } }]
        await dev.publishAsync(`devices/${DEVICE}/telemetry`, JSON.stringify(reading), { qos: 1 })
      }
      await dev.endAsync()
    }
    // Queued in Redis for the offline session by the first run, then more by the second.
    await publish(gw.mqttUrl, [1, 2, 3])
    gw.child.kill('SIGKILL')
    await gw.exited
    gw = await start()
    await publish(gw.mqttUrl, [4, 5, 6])

    const got = new Set<number>()
    const again = mqtt.connect(gw.mqttUrl, subOpts)
    clients.push(again)
    again.on('message', (_t, p) => {
      for (const r of JSON.parse(p.toString()) as Array<{ seq: number }>) got.add(r.seq)
    })
    await waitFor(() => got.size >= 6, 20_000).catch(() => undefined)
    expect([...got].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6])
  }, 120_000)
})
