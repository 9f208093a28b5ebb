// `npm run bench -- reports [--stations N] [--days D] [--every-min M]`: a D-day (30) province
// situation report over N (50) water-level stations reporting every M (10) minutes, a fifth of them
// also with a rain gauge and a fifth with an air-quality station, built from SQLite and from a real
// InfluxDB holding the same points: the report's time and the building process's peak RSS.
import { fork } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLogger } from '../gateway/log/logger.ts'
import { Metrics } from '../gateway/metrics/registry.ts'
import { openTimeSeriesStore } from '../gateway/store/index.ts'
import type { Point, TimeSeriesStore } from '../gateway/store/types.ts'
import { localDayStart } from '../gateway/reports/period.ts'
import { startInfluxd } from '../test/support/influxd.ts'
import { tempDir } from '../test/support/services.ts'

const here = dirname(fileURLToPath(import.meta.url))
const arg = (args: string[], name: string, def: number) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : def)

function* points(stations: number, from: number, to: number, everyMs: number): Generator<Point[]> {
  let batch: Point[] = []
  for (let s = 0; s < stations; s++) {
    const station = `bench-st-${String(s).padStart(2, '0')}`
    const district = `district-${s % 9}`
    for (let t = from, i = 0; t < to; t += everyMs, i++) {
      // A slow tide with a flood pulse every 10 days: levels cross I and II now and then.
      const level = 1.2 + Math.sin(i / 70 + s) * 0.8 + (i % 1440 < 60 ? 1.5 : 0)
      batch.push({
        measurement: 'readings',
        tags: { device: `${station}-wl`, kind: 'water_level', station, district },
        fields: { water_level: Math.round(level * 100) / 100, rise_rate: Math.round(Math.cos(i / 70 + s) * 100) / 1000 },
        ts: t,
      })
      if (s % 5 === 0)
        batch.push({
          measurement: 'readings',
          tags: { device: `${station}-rg`, kind: 'rain_gauge', station, district },
          fields: { rainfall: (i * 7 + s) % 13 === 0 ? 2.4 : 0, interval_s: everyMs / 1000 },
          ts: t + 1000,
        })
      if (s % 5 === 1)
        batch.push({
          measurement: 'readings',
          tags: { device: `${station}-aq`, kind: 'air_quality', station, district },
          fields: { pm25: 20 + (i % 50), aqi: 40 + (i % 120) },
          ts: t + 2000,
        })
      if (batch.length >= 5000) {
        yield batch
        batch = []
      }
    }
  }
  if (batch.length) yield batch
}

async function fill(store: TimeSeriesStore, stations: number, from: number, to: number, everyMs: number): Promise<number> {
  let n = 0
  for (const b of points(stations, from, to, everyMs)) {
    await store.write(b)
    n += b.length
  }
  return n
}

function build(
  env: Record<string, string>,
): Promise<{ ms: number; maxRssMiB: number; stations: number; rain: number; air: number; summary: string; levels: number }> {
  return new Promise((resolve, reject) => {
    const c = fork(join(here, '_reports-build.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    c.on('message', (m: { done?: Awaited<ReturnType<typeof build>> }) => m.done && resolve(m.done))
    c.on('exit', (code) => code !== 0 && reject(new Error(`report child exited ${code}`)))
  })
}

export async function main(args: string[]): Promise<void> {
  const stations = arg(args, 'stations', 50)
  const days = arg(args, 'days', 30)
  const everyMs = arg(args, 'every-min', 10) * 60_000
  const to = localDayStart(Date.now())
  const from = to - days * 86_400_000
  const logger = createLogger('silent')
  const influxd = await startInfluxd()
  const dirs = { sqlite: tempDir('iocgw-bench-reports-sqlite-'), influx: tempDir('iocgw-bench-reports-influx-') }
  try {
    const env = { BENCH_FROM: String(from), BENCH_TO: String(to), BENCH_STATIONS: String(stations) }
    for (const backend of ['sqlite', 'influx'] as const) {
      const influxUrl = backend === 'influx' ? influxd.urlFor('ioc_bench_reports') : undefined
      const store = await openTimeSeriesStore({
        influxUrl,
        dataDir: dirs[backend].path,
        logger,
        metrics: new Metrics({ defaults: false }),
        sqlite: { synchronous: 'NORMAL' },
      })
      const t0 = performance.now()
      const n = await fill(store, stations, from, to, everyMs)
      await store.close()
      console.log(`${backend}: wrote ${n} points in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
      const r = await build({ ...env, BENCH_DATA_DIR: dirs[backend].path, BENCH_INFLUX_URL: influxUrl ?? '' })
      console.log(
        `${backend}: ${days}-day report, ${r.stations} water-level stations (${r.levels} with time at level), ${r.rain} rain gauges, ${r.air} air-quality stations: ${(r.ms / 1000).toFixed(2)} s, peak RSS ${r.maxRssMiB.toFixed(0)} MiB`,
      )
      console.log(`  ${r.summary}`)
    }
  } finally {
    await influxd.remove()
    dirs.sqlite.remove()
    dirs.influx.remove()
  }
}
