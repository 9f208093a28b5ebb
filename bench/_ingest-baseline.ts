// The ingest bench's references (bench/ingest.ts), measured against the same influxd as the
// gateway: raw line protocol (the database's limit), mosquitto with a minimal Node subscriber, and
// the aedes floor (bench/_aedes-floor.ts).
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Influxd } from '../test/support/influxd.ts'
import { freePort, tempDir, waitFor } from '../test/support/services.ts'
import type { CpuSampler } from './_cpu.ts'
import { countStored, cqDuring, storedOnceSettled } from './_ingest-influx.ts'
import { exited, procStats, ROOT, runNode, runPublishers, type Opts } from './_ingest-publishers.ts'
import { pct, wholeRunP99, type Row } from './_ingest-report.ts'

/** Stops a reference writer and reads when InfluxDB last accepted one of its writes. */
export async function lastWriteOf(child: ChildProcess & { out: () => string }): Promise<{ lastWrite: number; latencies?: number[] }> {
  child.kill('SIGTERM')
  await exited(child)
  const res = JSON.parse(child.out().trim().split('\n').pop() ?? '{}') as { lastWrite?: number; latencies?: number[] }
  if (!res.lastWrite) throw new Error(`reference writer reported no write: ${child.out().slice(-300)}`)
  return { lastWrite: res.lastWrite, ...(res.latencies ? { latencies: res.latencies } : {}) }
}

/**
 * A water-level reading as each side writes it: the references' (two tags, three fields) and the
 * gateway's (docs/data-model.md: the same point with a station tag; alarm_level and rise_rate in a
 * `derived` point of their own, on change and at least every 5 s, so one per reading for a device
 * sending less often once its rise rate is known). InfluxDB's cost grows with every field and
 * every point, so the raw limit is measured for each shape, and for the one point per reading the
 * gateway wrote before `derived` (every derived value inside it).
 */
export const level = (i: number) => 1 + (i % 300) / 100
const alarm = (i: number) => (level(i) >= 3.5 ? 3 : level(i) >= 2 ? 2 : 1)
export const POINT_SHAPES = {
  'reference point': {
    db: 'bench_raw',
    line: (d: number, i: number) => `readings,device=raw-${d},kind=water_level water_level=${level(i)},battery=12.5,seq=${i}i`,
  },
  "gateway's point": {
    db: 'bench_raw_gw',
    line: (d: number, i: number) =>
      `readings,device=raw-${d},kind=water_level,station=kim-long battery=12.5,seq=${i}i,water_level=${level(i)}`,
  },
  "gateway's point + a derived point": {
    db: 'bench_raw_gw_derived',
    line: (d: number, i: number) =>
      `readings,device=raw-${d},kind=water_level,station=kim-long battery=12.5,seq=${i}i,water_level=${level(i)}\nderived,device=raw-${d},kind=water_level,station=kim-long alarm_level=${alarm(i)},rise_rate=${((i % 7) - 3) / 1000}`,
  },
  'one point with the derived values (before `derived`)': {
    db: 'bench_raw_gw_inline',
    line: (d: number, i: number) =>
      `readings,device=raw-${d},kind=water_level,station=kim-long alarm_level=${alarm(i)},battery=12.5,rise_rate=${((i % 7) - 3) / 1000},seq=${i}i,water_level=${level(i)}`,
  },
}

/** The database's own limit: 5,000-point line-protocol batches, two writers in flight. */
export async function rawLimit(influxd: Influxd, cpu: CpuSampler, seconds: number, shape: keyof typeof POINT_SHAPES): Promise<Row> {
  const { db, line } = POINT_SHAPES[shape]
  await influxd.query(`CREATE DATABASE ${db}`)
  const end = Date.now() + seconds * 1000
  let points = 0
  let ts = Date.now() - 3_600_000
  const writer = async () => {
    while (Date.now() < end) {
      const lines: string[] = []
      // A shape of several lines (a reading and its derived point) shares the reading's time.
      for (let i = 0; i < 5000; i++, ts++) for (const l of line(i % 200, points + i).split('\n')) lines.push(`${l} ${ts}`)
      const res = await fetch(`${influxd.url}/write?db=${db}&precision=ms`, { method: 'POST', body: lines.join('\n') })
      if (!res.ok) throw new Error(`influx write ${res.status}`)
      points += 5000
    }
  }
  const t0 = Date.now()
  await Promise.all([writer(), writer()])
  const t1 = Date.now()
  return {
    name: `raw line protocol, ${shape} (limit; readings/s)`,
    rate: points / ((t1 - t0) / 1000),
    where: { window: cpu.window(t0, t1), side: [] },
  }
}

/**
 * A reference's run: the publishers against `port`, then the readings in `db`, counted at once
 * (`now`: the broker acknowledged only what it stored) or once the count settles (`settled`: it
 * acknowledged first), with the continuous-query runs meanwhile.
 */
export async function referencePublish(
  o: Opts,
  influxd: Influxd,
  cpu: CpuSampler,
  port: number,
  devices: Array<{ id: string }>,
  db: string,
  count: 'now' | 'settled',
) {
  const { result, note } = await cqDuring(influxd, async () => {
    const results = await runPublishers(o, `mqtt://127.0.0.1:${port}`, devices, cpu)
    const acked = results.reduce((s, r) => s + r.acked, 0)
    return { results, acked, stored: count === 'now' ? await countStored(influxd, db) : await storedOnceSettled(influxd, db, acked) }
  })
  return { ...result, cq: note }
}

export async function mosquittoRun(o: Opts, influxd: Influxd, cpu: CpuSampler): Promise<Row> {
  await influxd.query('CREATE DATABASE bench_mq')
  const dir = tempDir('iocgw-bench-mq-')
  const port = await freePort()
  const conf = join(dir.path, 'mosquitto.conf')
  // An integrator's settings: no limit on the subscriber's queue, so nothing is dropped silently.
  writeFileSync(
    conf,
    `listener ${port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 100\npersistence false\n`,
  )
  const broker = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' })
  cpu.track('mosquitto', broker.pid)
  try {
    await waitFor(async () => {
      const { connect } = await import('node:net')
      return new Promise<boolean>((r) => {
        const s = connect(port, '127.0.0.1', () => (s.end(), r(true)))
        s.on('error', () => r(false))
      })
    }, 10_000)
    const sub = runNode(join(ROOT, 'bench/_mosquitto-subscriber.ts'), [`mqtt://127.0.0.1:${port}`, influxd.url, 'bench_mq'])
    cpu.track('subscriber', sub.pid)
    await new Promise((r) => setTimeout(r, 1500))
    const before = procStats(sub.pid!)
    const devices = Array.from({ length: o.devices }, (_, i) => ({ id: `mq-${i}` }))
    const { results, acked, stored, cq } = await referencePublish(o, influxd, cpu, port, devices, 'bench_mq', 'settled')
    const start = Math.min(...results.map((r) => r.start))
    const after = procStats(sub.pid!)
    const res = await lastWriteOf(sub)
    const end = res.lastWrite
    const window = cpu.window(start, end)
    const secs = (end - start) / 1000
    return {
      name: 'mosquitto + Node subscriber',
      rate: stored / secs,
      p50: pct(res.latencies ?? [], 50),
      p99: pct(res.latencies ?? [], 99),
      cpu: (after.cpu - before.cpu) / secs,
      rss: after.hwm,
      note: `${stored} stored of ${acked} acknowledged by mosquitto (subscriber CPU/RSS; PUBACK before storage); ${cq}`,
      where: { window, side: ['mosquitto', 'subscriber'] },
    }
  } finally {
    broker.kill('SIGTERM')
    await exited(broker)
    dir.remove()
  }
}

/**
 * The floor under the gateway (bench/_aedes-floor.ts): aedes plus the reference subscriber's work in
 * one process, PUBACK once stored (`stored`, the gateway's rule) or on arrival (`at-once`,
 * mosquitto's). Measured like the gateway: stored readings / (first publish → last PUBACK, or for
 * `at-once` → the last write InfluxDB accepted).
 */
export async function floorRun(o: Opts, influxd: Influxd, cpu: CpuSampler, ack: 'stored' | 'at-once'): Promise<Row> {
  const db = ack === 'stored' ? 'bench_floor' : 'bench_floor_now'
  await influxd.query(`CREATE DATABASE ${db}`)
  const floor = runNode(join(ROOT, 'bench/_aedes-floor.ts'), [influxd.url, db, ack])
  cpu.track('floor', floor.pid)
  try {
    const port = await waitFor(async () => (JSON.parse(floor.out().split('\n')[0] || 'null') as { port: number } | null)?.port, 30_000, 50)
    const before = procStats(floor.pid!)
    const devices = Array.from({ length: o.devices }, (_, i) => ({ id: `fl-${i}` }))
    const { results, acked, stored, cq } = await referencePublish(o, influxd, cpu, port, devices, db, ack === 'stored' ? 'now' : 'settled')
    const start = Math.min(...results.map((r) => r.start))
    const after = procStats(floor.pid!)
    const end = ack === 'stored' ? Math.max(...results.map((r) => r.lastAck)) : (await lastWriteOf(floor)).lastWrite
    const secs = (end - start) / 1000
    const lat = results.flatMap((r) => r.latencies)
    return {
      name: `aedes floor, PUBACK ${ack === 'stored' ? 'once stored' : 'at once'}`,
      rate: stored / secs,
      ...(ack === 'stored' ? { p50: pct(lat, 50), p99: pct(lat, 99) } : {}),
      cpu: (after.cpu - before.cpu) / secs,
      rss: after.hwm,
      note: `${stored} stored of ${acked} acknowledged (aedes + line protocol only)${ack === 'stored' ? `; ${wholeRunP99(results)}` : ''}; ${cq}`,
      where: { window: cpu.window(start, end), side: ['floor'] },
    }
  } finally {
    floor.kill('SIGTERM')
    await exited(floor)
  }
}
