// `npm run bench -- alerts [--samples N] [--rate R] [--store sqlite]`: latency from a breaching
// MQTT publish to the SMS provider stand-in receiving the request (broker -> ingest -> store ->
// alert engine -> outbox -> sender -> HTTP), p50 and p99, first on an idle gateway (the peer
// measured in the same run), then under a background load of R readings/s (default 20,000).
import { fork, type ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createAlerting } from '../gateway/alerts/engine.ts'
import { loadRules } from '../gateway/alerts/rules.ts'
import { createBroker } from '../gateway/broker/index.ts'
import { GatewayBus } from '../gateway/bus/events.ts'
import { createIngest } from '../gateway/ingest/index.ts'
import { loadStations } from '../gateway/domain/stations.ts'
import { createLogger } from '../gateway/log/logger.ts'
import { Metrics } from '../gateway/metrics/registry.ts'
import { createNotifier } from '../gateway/notify/notifier.ts'
import { openRegistry } from '../gateway/registry/sqlite.ts'
import { openTimeSeriesStore } from '../gateway/store/index.ts'
import { tempDir } from '../test/support/services.ts'
import { arg, pct } from './_args.ts'

const here = dirname(fileURLToPath(import.meta.url))
const system = { type: 'system' as const, id: 'bench' }

function child(file: string): ChildProcess {
  return fork(join(here, file), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
}

const once = <T>(c: ChildProcess, key: string) =>
  new Promise<T>((resolve) => {
    const on = (m: Record<string, unknown>) => {
      if (key in m) {
        c.off('message', on)
        resolve(m[key] as T)
      }
    }
    c.on('message', on)
  })

export async function main(args: string[]): Promise<void> {
  const samples = arg(args, 'samples', 150)
  const rate = arg(args, 'rate', 20_000)
  const intervalMs = 100
  const dir = tempDir('iocgw-bench-alerts-')
  const logger = createLogger('warn')
  const metrics = new Metrics({ defaults: false })
  const stations = loadStations('config/stations.yaml')
  const registry = openRegistry(dir.path)
  const store = await openTimeSeriesStore({ dataDir: dir.path, logger, metrics })
  const bus = new GatewayBus()
  let readings = 0
  bus.on('reading', () => {
    readings++
  })
  const ingest = createIngest({ registry, store, bus, logger, metrics, stations })
  const broker = await createBroker({
    registry,
    metrics,
    logger,
    bus,
    routes: { telemetry: ingest.telemetry, status: ingest.status },
    config: { host: '127.0.0.1', port: 0, wsPort: 0, wsPath: '/mqtt' },
  })
  const ports = await broker.listen()

  const probe = child('_alerts-probe.ts')
  const smsUrl = await once<string>(probe, 'url')
  const notifier = createNotifier({
    dataDir: dir.path,
    logger,
    metrics,
    stations,
    config: {
      smsProvider: 'esms',
      esms: { url: smsUrl, apiKey: 'k', secretKey: 's', brandname: 'IOCHUE', smsType: '2', sandbox: false },
      rateLimit: { max: 1_000_000, windowS: 60 },
    },
  })
  // The shipped rules, with the water-level rule acting at once so each breach opens an alert.
  const rules = loadRules(dir.path, 'config/rules.yaml')
  for (const r of rules.rules) if (r.type === 'water_alarm') r.min_duration_s = 0
  const alerting = createAlerting({
    bus,
    dataDir: dir.path,
    logger,
    metrics,
    stations,
    rules,
    publish: (t, p, o) => broker.publish(t, p, o),
    annotate: (p) => store.write([p]),
  })
  alerting.setRouter(notifier)
  alerting.onChange((c) => {
    if (c.change.action === 'opened' && c.alert.station === 'kim-long') atChange.push(process.hrtime.bigint())
  })
  await notifier.contacts.create({ name: 'Trực ban', phone: '0905123456', role: 'officer', stations: ['kim-long'], channels: ['sms'] })
  const gauge = await registry.createDevice({ id: 'kim-long-01', kind: 'water_level', name: 'Kim Long', station: 'kim-long' }, system)

  // Where the time goes: the gateway marks when the breaching reading reaches the bus (after
  // broker, ingest and store) and when the alert change has committed with its outbox rows.
  // process.hrtime is CLOCK_MONOTONIC on Linux, one clock for every process of the machine.
  const atReading: bigint[] = []
  const atChange: bigint[] = []
  bus.prependListener('reading', (r) => {
    if (r.device === 'kim-long-01' && r.values.water_level === 1.5) atReading.push(process.hrtime.bigint())
  })
  const measure = async (label: string) => {
    atReading.length = 0
    atChange.length = 0
    probe.send({ job: { port: ports.mqtt, device: 'kim-long-01', secret: gauge.secret, samples, intervalMs } })
    const r = await once<{ latencies: number[]; lost: number; marks: Array<[string, string]> }>(probe, 'done')
    const seg = (from: (i: number) => bigint | undefined, to: (i: number) => bigint | undefined) => {
      const xs: number[] = []
      r.marks.forEach((_m, i) => {
        const a = from(i)
        const b = to(i)
        if (a !== undefined && b !== undefined) xs.push(Number(b - a) / 1e6)
      })
      return `p50 ${pct(xs, 50).toFixed(1)} / p99 ${pct(xs, 99).toFixed(1)}`
    }
    const t0 = (i: number) => (r.marks[i] ? BigInt(r.marks[i]![0]) : undefined)
    const t1 = (i: number) => (r.marks[i] ? BigInt(r.marks[i]![1]) : undefined)
    const parts = `publish->bus ${seg(t0, (i) => atReading[i])}, bus->committed ${seg(
      (i) => atReading[i],
      (i) => atChange[i],
    )}, committed->provider ${seg((i) => atChange[i], t1)} ms`
    return {
      label,
      p50: pct(r.latencies, 50),
      p99: pct(r.latencies, 99),
      max: Math.max(...r.latencies),
      n: r.latencies.length,
      lost: r.lost,
      parts,
    }
  }

  console.log(`alerts: ${samples} breaches per phase, one every ${intervalMs} ms; store: ${store.backend}`)
  const idle = await measure('idle')

  // Background: water-level gauges at stations without alarm levels and rain gauges, all passing
  // through ingest, the store and every rule of the engine.
  const creds: Array<[string, string, 'water_level' | 'rain_gauge']> = []
  for (let i = 0; i < 40; i++) {
    const kind = i % 2 === 0 ? 'water_level' : 'rain_gauge'
    const d = await registry.createDevice({ id: `bg-${i}`, kind, name: `Background ${i}`, station: `bg-station-${i}` }, system)
    creds.push([d.device.id, d.secret, kind])
  }
  // Long enough for the slowest case (each breach waits for its SMS before the next).
  const seconds = Math.ceil((samples * intervalMs) / 1000) * 3 + 10
  const load = child('_alerts-load.ts')
  const loadFinished = once<{ sentReadings: number; ackedReadings: number; seconds: number }>(load, 'done')
  load.send({ job: { port: ports.mqtt, creds, readingsPerSecond: rate, batch: 10, seconds } })
  await new Promise((r) => setTimeout(r, 3000)) // let the load reach its rate
  const r0 = readings
  const t0 = Date.now()
  const loaded = await measure(`${rate} readings/s`)
  const achieved = ((readings - r0) / (Date.now() - t0)) * 1000
  if (load.connected) load.send({ cmd: 'stop' }, () => {})
  const loadDone = await loadFinished

  const row = (x: typeof idle) =>
    `  ${x.label.padEnd(20)} p50 ${x.p50.toFixed(1).padStart(6)} ms   p99 ${x.p99.toFixed(1).padStart(6)} ms   max ${x.max.toFixed(1).padStart(6)} ms   (${x.n} samples, ${x.lost} lost)\n      ${x.parts}`
  console.log('breaching publish -> SMS provider stand-in receives the request:')
  console.log(row(idle))
  console.log(row(loaded))
  console.log(
    `  background stored and evaluated: ${Math.round(achieved)} readings/s during the loaded phase (target ${rate}; publisher acked ${loadDone.ackedReadings} of ${loadDone.sentReadings})`,
  )
  console.log(
    `  ratio loaded/idle: p50 ${(loaded.p50 / idle.p50).toFixed(2)}x, p99 ${(loaded.p99 / idle.p99).toFixed(2)}x; goal p99 < 100 ms: ${loaded.p99 < 100 ? 'met' : 'NOT met'}`,
  )

  if (probe.connected) probe.send({ cmd: 'stop' }, () => {})
  await alerting.close()
  await notifier.close()
  await broker.close()
  await store.close()
  await registry.close()
  dir.remove()
}
