// `npm run bench -- ingest [--seconds 15] [--publishers 4] [--devices 200] [--window 32]`
//
// Readings/s stored, publish-to-stored latency, gateway CPU and RSS, for the gateway (aedes +
// ingest + InfluxDB store) against two references measured in the same run on the same influxd:
//   - raw line-protocol writes straight into InfluxDB (the limit of the database itself), of the
//     references' points and of the gateway's (which carry more fields, and cost InfluxDB more);
//   - Debian's mosquitto with a minimal Node subscriber batching into InfluxDB (what an integrator
//     would hand-roll: no auth, no checks, no de-dup, and PUBACK before anything is stored).
// Publishers are separate processes (mqtt.js, QoS 1), half sending single readings, half
// 10-reading arrays. Gateway latency is publish → PUBACK, which the gateway sends only once the
// reading is durable; the subscriber's is publish → its InfluxDB write returning.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { startInfluxd, type Influxd } from '../test/support/influxd.ts'
import { CpuSampler, pidsMatching, ticksOf, type CpuWindow } from './_cpu.ts'
import { freePort, hasCommand, tempDir, waitFor } from '../test/support/services.ts'

const ROOT = new URL('..', import.meta.url).pathname
/** The node flags `npm start` runs the gateway with, so the bench measures what operators run. */
const START_FLAGS = (
  (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start ?? ''
)
  .split(' ')
  .filter((w) => w.startsWith('--'))
const ADMIN = 'bench-admin-token-0123456789abcdef'

interface Opts {
  seconds: number
  publishers: number
  devices: number
  window: number
}

function parseArgs(args: string[]): Opts {
  const o: Opts = { seconds: 15, publishers: 4, devices: 200, window: 32 }
  for (let i = 0; i < args.length; i++) {
    const k = args[i]!.replace(/^--/, '') as keyof Opts
    if (k in o) o[k] = Number(args[++i])
  }
  return o
}

interface PubResult {
  sent: number
  acked: number
  errors: number
  start: number
  lastAck: number
  /** After the warm-up (WARMUP_MS): the figures the goals are read from. */
  latencies: number[]
  latenciesAll: number[]
}

/**
 * Latency percentiles leave out messages sent in a run's first 2 s: every publisher starts at
 * once, from idle, and a max run's processes are new (their compiler threads take up to half a
 * core each for a second or so). The p99 over the whole run is printed beside it.
 */
const WARMUP_MS = 2000

/** p99 of every message of the run, the first 2 s included, for the note beside the row. */
const wholeRunP99 = (results: PubResult[]): string =>
  `p99 with the first 2 s ${pct(
    results.flatMap((r) => r.latenciesAll),
    99,
  ).toFixed(1)} ms`

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

function procStats(pid: number): { cpu: number; rss: number; hwm: number } {
  const ticks = ticksOf(pid) ?? 0
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
  return { cpu: ticks / 100, rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 }
}

function runNode(script: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess & { out: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  return Object.assign(child, { out: () => out })
}

const exited = (c: ChildProcess) =>
  c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r()))

interface Publishers {
  /** `rates[i]`: readings/s for publisher process i (0: as fast as acknowledgements allow). */
  run(rates: number[], tsAfter?: number): Promise<PubResult[]>
  close(): Promise<void>
}

/**
 * Publisher processes with every device connected. They stay connected from one run to the next:
 * a process's first second costs its V8 compiler threads up to half a core each, which at half
 * rate starved the gateway into a backlog that lasted past the warm-up.
 */
async function startPublishers(
  o: Opts,
  url: string,
  devices: Array<{ id: string; password?: string }>,
  cpu: CpuSampler,
): Promise<Publishers> {
  const groups: Array<typeof devices> = Array.from({ length: o.publishers }, () => [])
  devices.forEach((d, i) => groups[i % o.publishers]!.push(d))
  const procs = groups.map((g, i) => {
    const p = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'bench/_ingest-publisher.ts'),
        JSON.stringify({ url, devices: g, mode: i % 2 === 0 ? 'single' : 'array' }),
      ],
      {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    )
    cpu.track('publishers', p.pid)
    return { p, lines: createInterface({ input: p.stdout! })[Symbol.asyncIterator]() }
  })
  const next = async (x: (typeof procs)[number]): Promise<string> => {
    const r = await x.lines.next()
    if (r.done) throw new Error(`publisher ${x.p.pid} ended (exit ${x.p.exitCode ?? x.p.signalCode})`)
    return r.value
  }
  await Promise.all(procs.map(next))
  return {
    async run(rates, tsAfter = 0) {
      // Every process starts at the same moment: the rate's window (first publish to last
      // acknowledgement) is then the time they really ran together.
      const startAt = Date.now() + 500
      procs.forEach((x, i) =>
        x.p.stdin!.write(
          `${JSON.stringify({ seconds: o.seconds, rate: rates[i] ?? 0, window: o.window, startAt, warmupMs: WARMUP_MS, tsAfter })}\n`,
        ),
      )
      return Promise.all(procs.map(async (x) => JSON.parse(await next(x)) as PubResult))
    },
    async close() {
      for (const x of procs) x.p.stdin!.end()
      await Promise.all(procs.map((x) => exited(x.p)))
    },
  }
}

/** One run on publishers of its own. */
async function runPublishers(
  o: Opts,
  url: string,
  devices: Array<{ id: string; password?: string }>,
  cpu: CpuSampler,
): Promise<PubResult[]> {
  const pubs = await startPublishers(o, url, devices, cpu)
  try {
    return await pubs.run([])
  } finally {
    await pubs.close()
  }
}

/**
 * The newest reading's time in `db`: at full speed a device sends more than one reading per ms, so
 * its times (one ms apart at least) run ahead of the clock, and the next run starts after them.
 */
async function newestTs(influxd: Influxd, db: string): Promise<number> {
  const r = await influxd.query('SELECT last(water_level) FROM readings', db)
  return Number(r.results[0]?.series?.[0]?.values[0]?.[0] ?? 0)
}

async function countStored(influxd: Influxd, db: string): Promise<number> {
  const r = await influxd.query('SELECT count(water_level) FROM readings', db)
  return Number(r.results[0]?.series?.[0]?.values[0]?.[1] ?? 0)
}

/**
 * For a broker that acknowledges before storing: the readings in `db` once the count reaches what
 * was acknowledged or stops growing (checked every second). When the run ended is what the writer
 * reports (`lastWriteOf`): its last write InfluxDB accepted, not the check that noticed it.
 */
async function storedOnceSettled(influxd: Influxd, db: string, acked: number): Promise<number> {
  let last = -1
  for (;;) {
    const stored = await countStored(influxd, db)
    if (stored >= acked || stored === last) return stored
    last = stored
    await new Promise((r) => setTimeout(r, 1000))
  }
}

/** Stops a reference writer and reads when InfluxDB last accepted one of its writes. */
async function lastWriteOf(child: ChildProcess & { out: () => string }): Promise<{ lastWrite: number; latencies?: number[] }> {
  child.kill('SIGTERM')
  await exited(child)
  const res = JSON.parse(child.out().trim().split('\n').pop() ?? '{}') as { lastWrite?: number; latencies?: number[] }
  if (!res.lastWrite) throw new Error(`reference writer reported no write: ${child.out().slice(-300)}`)
  return { lastWrite: res.lastWrite, ...(res.latencies ? { latencies: res.latencies } : {}) }
}

interface Row {
  name: string
  rate: number
  p50?: number
  p99?: number
  cpu?: number
  rss?: number
  note?: string
  /** Machine and per-group CPU over the measured window. */
  where?: { window: CpuWindow; side: string[] }
}

/**
 * A water-level reading as each side writes it: the references' (two tags, three fields) and the
 * gateway's for the bench's devices (docs/data-model.md: a station tag, alarm_level and rise_rate
 * beside the values). InfluxDB's cost grows with every field, so the raw limit is measured for both.
 */
const level = (i: number) => 1 + (i % 300) / 100
const POINT_SHAPES = {
  'reference point': {
    db: 'bench_raw',
    line: (d: number, i: number) => `readings,device=raw-${d},kind=water_level water_level=${level(i)},battery=12.5,seq=${i}i`,
  },
  "gateway's point": {
    db: 'bench_raw_gw',
    line: (d: number, i: number) =>
      `readings,device=raw-${d},kind=water_level,station=kim-long alarm_level=${level(i) >= 3.5 ? 3 : level(i) >= 2 ? 2 : 1},battery=12.5,rise_rate=${((i % 7) - 3) / 1000},seq=${i}i,water_level=${level(i)}`,
  },
}

/** The database's own limit: 5,000-point line-protocol batches, two writers in flight. */
async function rawLimit(influxd: Influxd, cpu: CpuSampler, seconds: number, shape: keyof typeof POINT_SHAPES): Promise<Row> {
  const { db, line } = POINT_SHAPES[shape]
  await influxd.query(`CREATE DATABASE ${db}`)
  const end = Date.now() + seconds * 1000
  let points = 0
  let ts = Date.now() - 3_600_000
  const writer = async () => {
    while (Date.now() < end) {
      const lines: string[] = []
      for (let i = 0; i < 5000; i++) lines.push(`${line(i % 200, points + i)} ${ts++}`)
      const res = await fetch(`${influxd.url}/write?db=${db}&precision=ms`, { method: 'POST', body: lines.join('\n') })
      if (!res.ok) throw new Error(`influx write ${res.status}`)
      points += 5000
    }
  }
  const t0 = Date.now()
  await Promise.all([writer(), writer()])
  const t1 = Date.now()
  return { name: `raw line protocol, ${shape} (limit)`, rate: points / ((t1 - t0) / 1000), where: { window: cpu.window(t0, t1), side: [] } }
}

/** Waits (at most 30 s) until every group uses under a tenth of a core over a whole second. */
async function settled(cpu: CpuSampler, groups: string[]): Promise<void> {
  const start = Date.now()
  let quiet = false
  while (!quiet && Date.now() < start + 30_000) {
    const t0 = Date.now()
    await new Promise((r) => setTimeout(r, 1000))
    const w = cpu.window(t0, Date.now())
    quiet = groups.every((g) => (w.groups.get(g) ?? 0) < 0.1)
  }
  console.log(`${groups.join(' and ')} ${quiet ? 'quiet' : 'still busy'} after ${((Date.now() - start) / 1000).toFixed(0)} s`)
}

async function gatewayRuns(o: Opts, influxd: Influxd, cpu: CpuSampler): Promise<{ max: Row; half: Row }> {
  const dir = tempDir('iocgw-bench-')
  const ports = { http: await freePort(), mqtt: await freePort(), ws: await freePort() }
  const gw = spawn(
    process.execPath,
    [...START_FLAGS, ...(process.env.BENCH_GW_FLAGS ?? '').split(' ').filter(Boolean), join(ROOT, 'gateway/cli/iocgw.js'), 'start'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        IOC_DATA_DIR: dir.path,
        IOC_HTTP_PORT: String(ports.http),
        IOC_MQTT_PORT: String(ports.mqtt),
        IOC_MQTT_WS_PORT: String(ports.ws),
        IOC_ADMIN_TOKEN: ADMIN,
        IOC_INFLUX_URL: influxd.urlFor('bench_gw'),
        IOC_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', process.env.BENCH_GW_FLAGS ? 'inherit' : 'ignore', 'inherit'],
    },
  )
  cpu.track('gateway', gw.pid)
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${ports.http}/healthz`)).ok, 60_000, 100)
    const devices: Array<{ id: string; password: string }> = []
    for (let i = 0; i < o.devices; i++) {
      const res = await fetch(`http://127.0.0.1:${ports.http}/api/v1/devices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: `bench-${i}`, kind: 'water_level', name: `bench ${i}`, station: 'kim-long' }),
      })
      if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`)
      devices.push({ id: `bench-${i}`, password: ((await res.json()) as { credentials: { password: string } }).credentials.password })
    }
    /** Write requests InfluxDB was slow to answer, acknowledged from the gateway's spill journal. */
    const spilled = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text()
      return Number(/^iocgw_store_spilled_requests_total\{backend="influx"\} (\d+)/m.exec(text)?.[1] ?? 0)
    }
    // One set of publishers for both runs (startPublishers says why).
    const pubs = await startPublishers(o, `mqtt://127.0.0.1:${ports.mqtt}`, devices, cpu)
    const run = async (name: string, rates: number[]): Promise<Row & { perProcess: number[] }> => {
      // Counted as what the run added: the publishers' times run ahead of the clock at full
      // speed, so a count by time would take in the end of the run before.
      const storedBefore = await countStored(influxd, 'bench_gw')
      const tsAfter = await newestTs(influxd, 'bench_gw')
      if (tsAfter > Date.now())
        console.log(`${name}: the run before left readings ${tsAfter - Date.now()} ms ahead of the clock; this one starts after them`)
      const before = procStats(gw.pid!)
      const spilledBefore = await spilled()
      const { result: results, note: cq } = await cqDuring(influxd, () => pubs.run(rates, tsAfter))
      const after = procStats(gw.pid!)
      const spills = (await spilled()) - spilledBefore
      const start = Math.min(...results.map((r) => r.start))
      const end = Math.max(...results.map((r) => r.lastAck))
      const acked = results.reduce((s, r) => s + r.acked, 0)
      const stored = (await countStored(influxd, 'bench_gw')) - storedBefore
      const lat = results.flatMap((r) => r.latencies)
      const secs = (end - start) / 1000
      return {
        name,
        perProcess: results.map((r) => r.acked / ((r.lastAck - r.start) / 1000)),
        rate: stored / secs,
        p50: pct(lat, 50),
        p99: pct(lat, 99),
        cpu: (after.cpu - before.cpu) / secs,
        rss: after.hwm,
        note: `${stored} stored, ${acked} acknowledged${stored < acked ? ' (LOST!)' : ''}, ${results.reduce((s, r) => s + r.errors, 0)} errors; ${wholeRunP99(results)}; ${spills} write requests acknowledged from the spill journal (InfluxDB slow to answer); ${cq}`,
        where: { window: cpu.window(start, end), side: ['gateway'] },
      }
    }
    const max = await run('gateway (max rate)', [])
    // InfluxDB snapshots and compacts the max run's data for a few seconds afterwards; the half
    // run measures latency at a steady half load, so it starts once both are quiet again.
    await settled(cpu, ['influxd', 'gateway'])
    // Each process at half of its own maximum, so the half-rate run keeps the max run's mix of
    // single readings and arrays (single-reading processes send ten times the messages per reading).
    const half = await run(
      'gateway (half max rate)',
      max.perProcess.map((r) => r / 2),
    )
    await pubs.close()
    return { max, half }
  } finally {
    gw.kill('SIGTERM')
    await exited(gw)
    dir.remove()
  }
}

/**
 * A reference's run: the publishers against `port`, then the readings in `db`, counted at once
 * (`now`: the broker acknowledged only what it stored) or once the count settles (`settled`: it
 * acknowledged first), with the continuous-query runs meanwhile.
 */
async function referencePublish(
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

async function mosquittoRun(o: Opts, influxd: Influxd, cpu: CpuSampler): Promise<Row> {
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
async function floorRun(o: Opts, influxd: Influxd, cpu: CpuSampler, ack: 'stored' | 'at-once'): Promise<Row> {
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

/** InfluxDB's own statistics (SHOW STATS): a module's field, 0 when InfluxDB does not report it. */
async function influxStats(influxd: Influxd): Promise<(module: string, field: string) => number> {
  const series = (await influxd.query('SHOW STATS')).results[0]?.series ?? []
  return (module, field) => {
    const s = series.find((x) => x.name === module)
    const i = s ? s.columns.indexOf(field) : -1
    return i < 0 ? 0 : Number(s!.values[0]![i] ?? 0)
  }
}

/**
 * InfluxDB's own view of the gateway's writes (httpd module): requests, points per request and
 * the server-side time per request, to tell the database's time from the gateway's.
 */
async function influxWriteStats(influxd: Influxd): Promise<string> {
  const stat = await influxStats(influxd)
  const reqs = stat('httpd', 'writeReq')
  return `influxd (gateway runs): ${reqs} write requests, ${(reqs ? stat('httpd', 'pointsWrittenOK') / reqs : 0).toFixed(0)} points each, server time ${(reqs ? stat('httpd', 'writeReqDurationNs') / reqs / 1e6 : 0).toFixed(1)} ms per request`
}

/**
 * The gateway's rollups are the gateway's cost: once its runs are over its continuous queries go,
 * so that they no longer run (on InfluxDB's clock, over the gateway's millions of points) inside a
 * reference's run. Until the sixth session of 2026-11-29 they did, in most mosquitto runs.
 */
async function dropContinuousQueries(influxd: Influxd, db: string): Promise<void> {
  const series = (await influxd.query('SHOW CONTINUOUS QUERIES')).results[0]?.series ?? []
  const names = series.find((s) => s.name === db)?.values.map((v) => String(v[0])) ?? []
  for (const name of names) await influxd.query(`DROP CONTINUOUS QUERY "${name}" ON "${db}"`)
  console.log(`dropped the gateway's ${names.length} continuous queries`)
}

/** Continuous-query runs so far and the query executor's total time (CQs run through it). */
async function cqSnapshot(influxd: Influxd): Promise<{ runs: number; queryNs: number }> {
  const stat = await influxStats(influxd)
  return { runs: stat('cq', 'queryOk') + stat('cq', 'queryFail'), queryNs: stat('queryExecutor', 'queryDurationNs') }
}

/**
 * The rollups' continuous queries run on InfluxDB's clock, whichever run is on: a note of how many
 * fell inside this one and how long InfluxDB spent in queries meanwhile, to read its figure by.
 */
async function cqDuring<T>(influxd: Influxd, run: () => Promise<T>): Promise<{ result: T; note: string }> {
  const before = await cqSnapshot(influxd)
  const result = await run()
  const after = await cqSnapshot(influxd)
  return {
    result,
    note: `continuous queries: ${after.runs - before.runs} run(s), ${((after.queryNs - before.queryNs) / 1e9).toFixed(1)} s of queries`,
  }
}

function fmt(rows: Row[]): string {
  const n = (x: number | undefined, d = 0) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d))
  const lines = [
    '| run | readings/s stored | p50 ms | p99 ms | CPU (cores) | RSS peak MB | note |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
  ]
  for (const r of rows)
    lines.push(
      `| ${r.name} | ${n(r.rate)} | ${n(r.p50, 1)} | ${n(r.p99, 1)} | ${n(r.cpu, 2)} | ${r.rss ? n(r.rss / 1048576) : '-'} | ${r.note ?? ''} |`,
    )
  return lines.join('\n')
}

/**
 * Where the machine's CPU went in each run: whether the broker side (one gateway process, or
 * mosquitto plus its subscriber) or the whole machine was the limit, and the CPU each part spends
 * per stored reading.
 */
function fmtWhere(rows: Row[]): string {
  const lines = [
    '| run | machine busy (cores) | broker side (cores) | publishers (cores) | influxd (cores) | µs CPU per stored reading: broker side / publishers / influxd / all |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const r of rows) {
    if (!r.where) continue
    const w = r.where.window
    const side = r.where.side.reduce((s, g) => s + (w.groups.get(g) ?? 0), 0)
    const pub = w.groups.get('publishers') ?? 0
    const inf = w.groups.get('influxd') ?? 0
    const us = (cores: number) => ((cores * 1e6) / r.rate).toFixed(1)
    lines.push(
      `| ${r.name} | ${w.machineBusy.toFixed(2)} of ${w.cores} | ${side.toFixed(2)} | ${pub.toFixed(2)} | ${inf.toFixed(2)} | ${us(side)} / ${us(pub)} / ${us(inf)} / ${us(w.machineBusy)} |`,
    )
  }
  return lines.join('\n')
}

/** CPU per stored reading, all in (every process on the machine), over a run's window. */
const allInUs = (r: Row): number => (r.where ? (r.where.window.machineBusy * 1e6) / r.rate : Number.NaN)

/**
 * What the machine's CPU allows against the reference: a run's all-in cost per reading (its
 * publishers and influxd included) on every core, over what the reference stored. A ceiling for
 * any layout of the same work (more threads or processes only add to it): when the reference
 * keeps the machine busy and costs less per reading, no layout of the run's work can reach it.
 */
function cpuBound(ref: Row, rows: Row[]): string {
  const parts = rows.map((r) => {
    const cores = r.where?.window.cores ?? 0
    return `${r.name} ${allInUs(r).toFixed(1)} µs (at most ${((cores * 1e6) / allInUs(r) / ref.rate).toFixed(2)}x on all ${cores} cores)`
  })
  return `CPU per stored reading, all in: ${ref.name} ${allInUs(ref).toFixed(1)} µs with ${ref.where?.window.machineBusy.toFixed(2)} cores busy; ${parts.join('; ')}`
}

export async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv)
  if (!hasCommand('influxd')) throw new Error('influxd is not installed (Debian package influxdb)')
  console.log(`ingest bench: ${o.seconds} s per run, ${o.publishers} publisher processes, ${o.devices} devices, window ${o.window}`)
  const influxd = await startInfluxd()
  const cpu = new CpuSampler()
  for (const pid of pidsMatching(influxd.dir)) cpu.track('influxd', pid)
  try {
    // Gateway first, on a fresh influxd; the references after (their volume keeps influxd busy
    // compacting for a while, which would otherwise tax whoever runs next).
    const { max, half } = await gatewayRuns(o, influxd, cpu)
    console.log(await influxWriteStats(influxd))
    await dropContinuousQueries(influxd, 'bench_gw')
    if (process.env.BENCH_GW_ONLY) {
      console.log(`${fmt([max, half])}\n\n${fmtWhere([max, half])}`)
      return
    }
    // Each reference starts, as the half-rate run does, once InfluxDB has finished with the run
    // before (snapshots and compactions of a few million points take it seconds).
    const quiet = () => settled(cpu, ['influxd'])
    const mq = hasCommand('mosquitto') ? (await quiet(), await mosquittoRun(o, influxd, cpu)) : undefined
    const floorStored = (await quiet(), await floorRun(o, influxd, cpu, 'stored'))
    const floorAtOnce = (await quiet(), await floorRun(o, influxd, cpu, 'at-once'))
    const raw = (await quiet(), await rawLimit(influxd, cpu, Math.min(o.seconds, 10), 'reference point'))
    const rawGw = (await quiet(), await rawLimit(influxd, cpu, Math.min(o.seconds, 10), "gateway's point"))
    const rows = [raw, rawGw, ...(mq ? [mq] : []), floorAtOnce, floorStored, max, half]
    console.log(fmt(rows))
    console.log(`\n${fmtWhere(rows)}\n`)
    const vsMq = (r: Row) => (mq ? `${(r.rate / mq.rate).toFixed(2)}x` : '-')
    console.log(
      `ratios: gateway/mosquitto ${vsMq(max)}, gateway/raw ${(max.rate / raw.rate).toFixed(2)}x (${(max.rate / rawGw.rate).toFixed(2)}x of its own points' limit), aedes floor/mosquitto ${vsMq(floorStored)} (PUBACK once stored), ${vsMq(floorAtOnce)} (at once), gateway/aedes floor ${(max.rate / floorStored.rate).toFixed(2)}x`,
    )
    if (mq) console.log(cpuBound(mq, [max, floorStored]))
  } finally {
    cpu.stop()
    await influxd.remove()
  }
}
