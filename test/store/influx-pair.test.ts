import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway } from '../../gateway/app.ts'
import { envConfig } from '../support/gateway-api.ts'
import { requireInfluxd, startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir, waitFor } from '../support/services.ts'
import { startStack, type Stack } from '../ingest/stack.ts'
import { recordingProxy } from './fixtures/recording-proxy.ts'

// The gateway writing to two real InfluxDB servers (influx.urls, docs/operations.md "InfluxDB
// pair"): every reading in both; the second one down mid-stream while devices publish at QoS 1
// (acknowledged only once both have the reading durably: in the server or its own journal on
// disk); reads from the second while the first is down, and from the first again once it is back
// and drained.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 6 * 3_600_000
const DEVICES = ['pair-1', 'pair-2']

async function rows(influxd: Influxd, db: string, device: string): Promise<Array<{ ts: number; seq: number; level: number }>> {
  const r = await influxd.query(`SELECT "seq", "water_level" FROM "raw"."readings" WHERE "device" = '${device}'`, db)
  return (r.results[0]?.series?.[0]?.values ?? []).map((v) => ({ ts: v[0] as number, seq: v[1] as number, level: v[2] as number }))
}

/** `device:seq` of every readings line in a server's spool and spill journal files (records are lines between binary headers). */
function onDisk(dirs: string[]): Set<string> {
  const out = new Set<string>()
  for (const d of dirs) {
    if (!existsSync(d)) continue
    for (const f of readdirSync(d)) {
      if (!f.endsWith('.seg')) continue
      const text = readFileSync(join(d, f)).toString('latin1')
      // From `readings,` on: a record holds no newline before the next one's binary header, so a
      // match begun at a `derived` line would run into the next record and take its seq.
      for (const m of text.matchAll(/readings,\S*device=([^,\s]+)\S* [^\n]*?\bseq=(\d+)i/g)) out.add(`${m[1]}:${m[2]}`)
    }
  }
  return out
}

async function devicesOn(stack: Stack): Promise<mqtt.MqttClient[]> {
  return Promise.all(
    DEVICES.map(async (id) => {
      const d = await stack.registry.createDevice({ id, kind: 'water_level', name: id, station: 'kim-long' }, { type: 'system', id: 't' })
      return mqtt.connectAsync(`mqtt://127.0.0.1:${stack.mqttPort}`, { username: id, password: d.secret, clientId: id, reconnectPeriod: 0 })
    }),
  )
}

const reading = (seq: number) => JSON.stringify([{ ts: T0 + seq * 1000, seq, values: { water_level: seq / 100 } }])

describe.skipIf(!requireInfluxd())('InfluxDB pair (influx.urls)', () => {
  let a: Influxd
  let b: Influxd
  beforeAll(async () => {
    ;[a, b] = await Promise.all([startInfluxd(), startInfluxd()])
  }, 90_000)
  afterAll(async () => {
    await Promise.all([a?.remove(), b?.remove()])
  }, 60_000)

  it('both up: every reading in both servers, counts equal', async () => {
    const dir = tempDir('iocgw-pair-')
    const db = 'ioc_both'
    const stack = await startStack({ dataDir: dir.path, influxUrls: [a.urlFor(db), b.urlFor(db)] })
    const clients = await devicesOn(stack)
    const n = 150
    await Promise.all(
      clients.map(async (c, i) => {
        for (let seq = 1; seq <= n; seq++) await c.publishAsync(`devices/${DEVICES[i]}/telemetry`, reading(seq), { qos: 1 })
      }),
    )
    for (const device of DEVICES) {
      const inA = await rows(a, db, device)
      const inB = await rows(b, db, device)
      expect(inA).toHaveLength(n)
      expect(inB).toEqual(inA)
    }
    const metrics = await stack.metrics.text()
    for (const s of [a, b]) expect(metrics).toContain(`iocgw_influx_up{target="127.0.0.1:${s.port}/${db}"} 1`)
    // Every point the second server holds, readings and their derived points, was counted delivered.
    const derived = await b.query(`SELECT count("alarm_level") FROM "raw"."derived"`, db)
    const points = 2 * n + Number(derived.results[0]?.series?.[0]?.values[0]?.[1] ?? 0)
    expect(points).toBeGreaterThan(2 * n)
    expect(metrics).toMatch(
      new RegExp(`iocgw_store_points_delivered_total\\{backend="influx",target="127.0.0.1:${b.port}/${db}"\\} ${points}\\b`),
    )
    const h = stack.store.health()
    expect(h).toMatchObject({ ok: true, degraded: false })
    expect(h.targets?.map((t) => [t.state, t.reads])).toEqual([
      ['up', true],
      ['up', false],
    ])
    for (const c of clients) await c.endAsync()
    await stack.close()
    dir.remove()
  }, 120_000)

  it('second server stalled, then killed, mid-stream: publishes keep being acknowledged, each durable for it at the ack; once back it has every reading once, in order', async () => {
    const dir = tempDir('iocgw-pair-down-')
    const db = 'ioc_down'
    const proxy = await recordingProxy(b.url)
    const stack = await startStack({
      dataDir: dir.path,
      influxUrls: [a.urlFor(db), `${proxy.url}/${db}`],
      // One request at a time, so the order the second server receives is the order written.
      influx: { maxInflight: 1, spillAfterMs: 200, requestTimeoutMs: 3000, backoffMinMs: 50, backoffMaxMs: 500, pingIntervalMs: 500 },
    })
    const bName = `127.0.0.1_${new URL(proxy.url).port}_${db}`
    const bDirs = [join(dir.path, 'influx-spool', bName), join(dir.path, 'influx-spill', bName)]
    const clients = await devicesOn(stack)
    let phase: 'up' | 'stalled' | 'killed' | 'back' = 'up'
    const acked: Record<string, number> = Object.fromEntries(DEVICES.map((d) => [d, 0]))
    const ackedIn = { up: 0, stalled: 0, killed: 0, back: 0 }
    const notDurableOnB: string[] = []
    const failures: unknown[] = []
    let stop = false
    const publishers = clients.map(async (c, i) => {
      const device = DEVICES[i]!
      while (!stop) {
        const seq = acked[device]! + 1
        try {
          await c.publishAsync(`devices/${device}/telemetry`, reading(seq), { qos: 1 })
        } catch (err) {
          failures.push(err)
          return
        }
        // The PUBACK says the reading is durable for every server: the second one answered it
        // (the proxy saw its 204 first) or it is in that server's journal on disk.
        if (!proxy.accepted.get(device)?.includes(seq) && !onDisk(bDirs).has(`${device}:${seq}`))
          notDurableOnB.push(`${device}:${seq} (${phase})`)
        acked[device] = seq
        ackedIn[phase]++
        await sleep(5)
      }
    })
    const total = () => DEVICES.reduce((n, d) => n + acked[d]!, 0)

    await waitFor(() => total() >= 100, 30_000)
    b.pause()
    phase = 'stalled'
    await sleep(4000)
    await b.kill()
    phase = 'killed'
    const killedAt = ackedIn.killed
    await sleep(8000)
    expect(ackedIn.killed - killedAt).toBeGreaterThan(50)
    expect(stack.store.health().targets?.[1]).toMatchObject({ state: 'down', ok: true })
    await b.start()
    phase = 'back'
    await sleep(1000)
    stop = true
    await Promise.all(publishers)
    await waitFor(() => stack.store.health().targets?.[1]?.state === 'up' && stack.store.health().spool?.points === 0, 60_000, 100)

    expect(failures).toEqual([])
    expect(notDurableOnB).toEqual([])
    expect(ackedIn.stalled + ackedIn.killed).toBeGreaterThan(50)
    for (const device of DEVICES) {
      const n = acked[device]!
      const want = Array.from({ length: n }, (_, i) => ({ ts: T0 + (i + 1) * 1000, seq: i + 1, level: (i + 1) / 100 }))
      // Exactly once, with its values, in both servers.
      expect(await rows(a, db, device)).toEqual(want)
      expect(await rows(b, db, device)).toEqual(want)
      // The second server received each reading once, in the order written.
      expect(proxy.accepted.get(device)).toEqual(want.map((w) => w.seq))
    }
    for (const c of clients) await c.endAsync()
    await stack.close()
    await proxy.close()
    dir.remove()
  }, 180_000)

  it('first server down: reads answer from the second, then from the first again once it is back and drained', async () => {
    const dir = tempDir('iocgw-pair-read-')
    const db = 'ioc_reads'
    const stack = await startStack({
      dataDir: dir.path,
      influxUrls: [a.urlFor(db), b.urlFor(db)],
      influx: { backoffMinMs: 3000, backoffMaxMs: 3000, requestTimeoutMs: 2000, pingIntervalMs: 500 },
    })
    const store = stack.store
    // A marker point only each server holds tells which one answered a read.
    const mark = async (s: Influxd, device: string) => {
      const res = await fetch(`${s.url}/write?db=${db}&rp=raw&precision=ms`, {
        method: 'POST',
        body: `readings,device=${device} water_level=1 ${T0}`,
      })
      expect(res.status).toBe(204)
    }
    await waitFor(() => store.health().targets?.every((t) => t.state === 'up') === true, 30_000)
    await mark(a, 'only-a')
    await mark(b, 'only-b')
    const answeredBy = async (): Promise<string> => {
      const q = { metric: 'water_level', from: T0 - 1, to: T0 + 1, limit: 10 }
      const [fromA, fromB] = await Promise.all([store.readings({ ...q, device: 'only-a' }), store.readings({ ...q, device: 'only-b' })])
      return fromA.length > 0 ? 'a' : fromB.length > 0 ? 'b' : 'none'
    }
    expect(await answeredBy()).toBe('a')

    const write = async (from: number, to: number) => {
      for (let seq = from; seq <= to; seq++)
        await store.write([{ measurement: 'readings', tags: { device: 'pair-r' }, fields: { water_level: seq, seq }, ts: T0 + seq * 1000 }])
    }
    await write(1, 50)
    await a.kill()
    // Reads move to the second within a few seconds (its ping, or the first failed read).
    await waitFor(async () => (await answeredBy().catch(() => 'error')) === 'b', 20_000, 200)
    await write(51, 150) // acknowledged meanwhile: the first server's spool holds them
    expect(store.health().targets?.map((t) => [t.state, t.reads])).toEqual([
      ['down', false],
      ['up', true],
    ])
    const all = { device: 'pair-r', metric: 'water_level', from: T0, to: T0 + 1_000_000, limit: 1000 }
    expect(await store.readings(all)).toHaveLength(150)
    expect(await store.latest({ device: 'pair-r' })).toMatchObject([{ device: 'pair-r', values: { water_level: 150 } }])

    await a.start()
    // The drainer retries every 3 s while the ping (every 0.5 s) finds the first server back:
    // reachable but still draining, it must not answer (it lacks the outage's readings).
    const seen: Array<{ by: string; n: number; first: string | undefined }> = []
    await waitFor(
      async () => {
        const first = store.health().targets?.[0]?.state
        const [by, got] = await Promise.all([answeredBy(), store.readings(all)])
        seen.push({ by, n: got.length, first })
        return by === 'a'
      },
      60_000,
      100,
    )
    expect(seen.filter((s) => s.n !== 150)).toEqual([])
    expect(seen.some((s) => s.by === 'b' && s.first === 'draining')).toBe(true)
    // Back on the first only once it had drained: no gap in what it answers.
    expect(await store.readings(all)).toHaveLength(150)
    expect(store.health().targets?.[0]).toMatchObject({ state: 'up', reads: true, spool: { points: 0 } })
    expect(await stack.metrics.text()).toContain(`iocgw_influx_reads{target="127.0.0.1:${a.port}/${db}"} 1`)
    await stack.close()
    dir.remove()
  }, 150_000)

  it('the gateway shows each server on /readyz and /metrics, and stays ready while one is down', async () => {
    const dir = tempDir('iocgw-pair-gw-')
    const db = 'ioc_gw'
    const file = join(dir.path, 'gateway.yaml')
    writeFileSync(file, `influx:\n  urls:\n    - ${a.urlFor(db)}\n    - ${b.urlFor(db)}\n  backoffMaxMs: 500\n  requestTimeoutMs: 2000\n`)
    const token = 'pair-admin-token-0123456789'
    const config = envConfig(dir.path, token, file)
    const gw = await startGateway({ config, notice: () => {} })
    const base = `http://127.0.0.1:${gw.ports.http}`
    const ready = async () => {
      const res = await fetch(`${base}/readyz`)
      const body = (await res.json()) as { status: string; checks: Record<string, { ok: boolean; state?: string; detail?: string }> }
      // Vision may still be loading its models here; every other check must be ok.
      return { ok: Object.entries(body.checks).every(([k, c]) => k === 'model' || c.ok), body }
    }
    const [na, nb] = [`influx 127.0.0.1:${a.port}/${db}`, `influx 127.0.0.1:${b.port}/${db}`]
    const first = await ready()
    expect(first.ok, JSON.stringify(first.body)).toBe(true)
    expect(first.body.checks[na]).toMatchObject({ ok: true, state: 'up', detail: `influx ${db} ok; reads go here` })
    expect(first.body.checks[nb]).toMatchObject({ ok: true, state: 'up', detail: expect.not.stringMatching(/reads go here/) })

    await b.kill()
    // Noticed by the ping (every 5 s); the gateway stays ready, the server shown down.
    await waitFor(async () => (await ready()).body.checks[nb]?.state === 'down', 30_000, 250)
    const during = await ready()
    expect(during.ok, JSON.stringify(during.body)).toBe(true)
    expect(during.body.checks[nb]).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/^InfluxDB unreachable .*points spooled on disk \(\d+ bytes\)$/),
    })
    const metrics = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text()
    expect(metrics).toContain(`iocgw_influx_up{target="127.0.0.1:${b.port}/${db}"} 0`)
    expect(metrics).toContain(`iocgw_influx_up{target="127.0.0.1:${a.port}/${db}"} 1`)
    expect(metrics).toMatch(new RegExp(`iocgw_store_spool_bytes\\{backend="influx",target="127.0.0.1:${b.port}/${db}"\\} \\d+`))
    await b.start()
    await waitFor(async () => (await ready()).body.checks[nb]?.state === 'up', 30_000, 250)
    await gw.close()
    dir.remove()
  }, 120_000)
})
