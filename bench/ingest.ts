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
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { startInfluxd, type Influxd } from '../test/support/influxd.ts'
import { freePort, hasCommand, tempDir, waitFor } from '../test/support/services.ts'
import { CpuSampler, pidsMatching } from './_cpu.ts'
import { ADMIN, gaugeConfig, registerDevices, START_FLAGS } from './_cluster-nodes.ts'
import { floorRun, mosquittoRun, rawLimit } from './_ingest-baseline.ts'
import { countStored, cqDuring, dropContinuousQueries, influxWriteStats, newestTs } from './_ingest-influx.ts'
import { exited, procStats, ROOT, startPublishers, type Opts } from './_ingest-publishers.ts'
import { cpuBound, fmt, fmtWhere, pct, wholeRunP99, type Row } from './_ingest-report.ts'

function parseArgs(args: string[]): Opts {
  const o: Opts = { seconds: 15, publishers: 4, devices: 200, window: 32 }
  for (let i = 0; i < args.length; i++) {
    const k = args[i]!.replace(/^--/, '') as keyof Opts
    if (k in o) o[k] = Number(args[++i])
  }
  return o
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
  const ids = Array.from({ length: o.devices }, (_, i) => `bench-${i}`)
  const config = gaugeConfig(dir.path, ids)
  const gw = spawn(
    process.execPath,
    [...START_FLAGS, ...(process.env.BENCH_GW_FLAGS ?? '').split(' ').filter(Boolean), join(ROOT, 'gateway/cli/iocgw.js'), 'start'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        IOC_CONFIG: config,
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
    const devices = await registerDevices(`http://127.0.0.1:${ports.http}`, ids)
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
    const rawGwDerived = (await quiet(), await rawLimit(influxd, cpu, Math.min(o.seconds, 10), "gateway's point + a derived point"))
    const rawInline =
      (await quiet(), await rawLimit(influxd, cpu, Math.min(o.seconds, 10), 'one point with the derived values (before `derived`)'))
    const rows = [raw, rawGw, rawGwDerived, rawInline, ...(mq ? [mq] : []), floorAtOnce, floorStored, max, half]
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
