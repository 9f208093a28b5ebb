import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { openTimeSeriesStore } from '../../gateway/store/index.ts'
import { freePort, tempDir, waitFor } from '../support/services.ts'

// (b) of the telemetry issue: the gateway killed with -9 mid-stream under QoS 1 publishers; after
// a restart every reading whose PUBACK a publisher received is stored (MQTT 3.1.1 §4.3.2: PUBACK
// transfers ownership; the gateway sends it only once the reading is durable).

const ROOT = new URL('../..', import.meta.url).pathname
const ADMIN = 'test-admin-token-0123456789abcdef'

interface Gw {
  child: ChildProcess
  out: () => string
}

function startGw(env: Record<string, string>): Gw {
  const child = spawn(process.execPath, [join(ROOT, 'gateway/cli/iocgw.js'), 'start'], {
    cwd: ROOT,
    env: { ...process.env, IOC_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  return { child, out: () => out }
}

const exited = (c: ChildProcess) =>
  c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r()))

describe('gateway kill -9 under QoS 1 publishers', () => {
  const dir = tempDir()
  const procs: ChildProcess[] = []
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
    dir.remove()
  })

  it('stores every acknowledged reading after a restart', async () => {
    const ports = { http: await freePort(), mqtt: await freePort(), ws: await freePort() }
    const env = {
      IOC_DATA_DIR: join(dir.path, 'data'),
      IOC_HTTP_PORT: String(ports.http),
      IOC_MQTT_PORT: String(ports.mqtt),
      IOC_MQTT_WS_PORT: String(ports.ws),
      IOC_ADMIN_TOKEN: ADMIN,
    }
    const api = `http://127.0.0.1:${ports.http}/api/v1`
    let gw = startGw(env)
    procs.push(gw.child)
    const g1 = gw
    await waitFor(async () => (await fetch(`http://127.0.0.1:${ports.http}/healthz`)).ok, 60_000, 100).catch((e) => {
      throw new Error(`${e}\n${g1.out()}`)
    })

    const devices: Array<{ id: string; secret: string }> = []
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${api}/devices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: `kill-gauge-${i}`, kind: 'water_level', name: `Gauge ${i}`, station: 'kim-long' }),
      })
      expect(res.status).toBe(201)
      const body = (await res.json()) as { credentials: { password: string } }
      devices.push({ id: `kill-gauge-${i}`, secret: body.credentials.password })
    }

    // Publishers: QoS 1, up to 16 messages in flight each, half single readings, half 10-reading arrays.
    const acked = new Map<string, Set<number>>()
    const clients: MqttClient[] = []
    let running = true
    const t0 = Date.now() - 60_000
    const loops = devices.map(async (d, di) => {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, {
        username: d.id,
        password: d.secret,
        clientId: d.id,
        reconnectPeriod: 0,
      })
      clients.push(c)
      c.on('error', () => {})
      const mine = new Set<number>()
      acked.set(d.id, mine)
      let seq = 0
      let inflight = 0
      while (running && c.connected) {
        if (inflight >= 16) {
          await new Promise((r) => setTimeout(r, 1))
          continue
        }
        const batch = di % 2 === 0 ? 1 : 10
        const seqs = Array.from({ length: batch }, () => seq++)
        const readings = seqs.map((s) => ({ ts: t0 + s, seq: s, values: { water_level: 1 + (s % 100) / 100 } }))
        inflight++
        c.publish(`devices/${d.id}/telemetry`, JSON.stringify(batch === 1 ? readings[0] : readings), { qos: 1 }, (err) => {
          inflight--
          if (!err) for (const s of seqs) mine.add(s)
        })
        if (seq % 200 === 0) await new Promise((r) => setImmediate(r))
      }
    })

    await waitFor(() => acked.size === devices.length && [...acked.values()].every((s) => s.size >= 200), 30_000)
    gw.child.kill('SIGKILL')
    await exited(gw.child)
    running = false
    await Promise.all(loops)
    for (const c of clients) c.end(true)
    const total = [...acked.values()].reduce((s, x) => s + x.size, 0)
    expect(total).toBeGreaterThan(800)

    // Restart on the same data; then stop it and read its store.
    gw = startGw(env)
    procs.push(gw.child)
    await waitFor(async () => (await fetch(`http://127.0.0.1:${ports.http}/healthz`)).ok, 60_000, 100)
    gw.child.kill('SIGTERM')
    await exited(gw.child)

    const store = await openTimeSeriesStore({
      dataDir: env.IOC_DATA_DIR,
      logger: createLogger('silent'),
      metrics: new Metrics({ defaults: false }),
    })
    try {
      for (const d of devices) {
        const pts = await store.readings({ device: d.id, metric: 'seq', from: t0 - 1, to: Date.now(), limit: 100_000 })
        const stored = new Set(pts.map((p) => p.value as number))
        const missing = [...acked.get(d.id)!].filter((s) => !stored.has(s))
        expect(missing, `${d.id}: acknowledged but not stored`).toEqual([])
      }
    } finally {
      await store.close()
    }
  }, 180_000)
})
