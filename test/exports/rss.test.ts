import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { SqliteTimeSeriesStore } from '../../gateway/store/index.ts'
import { spawnGateway, stopGateway, type GatewayProcess } from '../support/gateway-process.ts'
import { startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir, waitFor } from '../support/services.ts'

// docs/api.md "Exports": a CSV export of 1,000,000 readings streams with the gateway's RSS growing
// by less than 50 MB. The gateway runs as its own child process (`iocgw start`), so its resident
// set is measured alone (VmRSS of /proc/<pid>/status), sampled every 50 ms while this process reads
// the response and only counts its lines. The baseline is taken after a small export (so code
// loaded for exports, and the export worker thread kept for the next export, are not counted as
// growth) and a pause.

const ADMIN = `iocgw_rss-admin-${Math.random().toString(36).slice(2)}`
const DEVICES = 4
const PER_DEVICE = 250_000
const TOTAL = DEVICES * PER_DEVICE
// Within InfluxDB's 90-day `raw` policy.
const T0 = Math.floor((Date.now() - 30 * 86_400_000) / 1000) * 1000
const MB = 1024 * 1024
const dir = tempDir('iocgw-rss-')
afterAll(() => dir.remove())

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m![1]) * 1024
}

function configFile(): string {
  const file = join(dir.path, `gateway-${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(file, 'vision:\n  enabled: false\n')
  return file
}

async function measureExport(gw: GatewayProcess): Promise<{ rows: number; growth: number; seconds: number }> {
  const url = `${gw.apiUrl}/api/v1/exports/readings.csv?from=${T0}&to=${T0 + PER_DEVICE * 1000}`
  const headers = { authorization: `Bearer ${ADMIN}` }
  // Warm-up: the export code paths loaded and compiled before the baseline.
  expect((await fetch(`${gw.apiUrl}/api/v1/exports/readings.csv?from=${T0}&to=${T0 + 1000}`, { headers })).status).toBe(200)
  await new Promise((r) => setTimeout(r, 1000))
  const pid = gw.child.pid!
  const baseline = rssOf(pid)
  let peak = baseline
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 50)
  const started = performance.now()
  const res = await fetch(url, { headers })
  expect(res.status).toBe(200)
  let lines = 0
  const reader = res.body!.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    for (let i = 0; i < value.length; i++) if (value[i] === 10) lines++
  }
  const seconds = (performance.now() - started) / 1000
  clearInterval(sampler)
  peak = Math.max(peak, rssOf(pid))
  return { rows: lines - 1, growth: peak - baseline, seconds }
}

/** Exports every reading through `gw` and expects all TOTAL rows with the RSS growing by less than 50 MB; logs the figures under `store`. */
async function expectLeanExport(store: 'sqlite' | 'influx', gw: GatewayProcess): Promise<void> {
  const r = await measureExport(gw)
  console.log(
    `${store}: ${r.rows} rows in ${r.seconds.toFixed(1)} s (${Math.round(r.rows / r.seconds)} rows/s), RSS growth ${(r.growth / MB).toFixed(1)} MB`,
  )
  expect(r.rows).toBe(TOTAL)
  expect(r.growth).toBeLessThan(50 * MB)
}

describe('a CSV export of 1,000,000 readings', () => {
  it('streams from SQLite with the gateway RSS growing by less than 50 MB', async () => {
    const dataDir = join(dir.path, 'sqlite')
    // Set-up: the store makes the series, field ids and types; the bulk goes in by plain SQL.
    const store = new SqliteTimeSeriesStore({
      dataDir,
      logger: createLogger('warn'),
      metrics: new Metrics({ defaults: false }),
      retentionDays: 100_000,
    })
    const tags = (d: number) => ({ device: `wl-${d}`, kind: 'water_level', station: `st-${d}`, district: 'Phú Xuân' })
    await store.write(
      Array.from({ length: DEVICES }, (_, d) => ({ measurement: 'readings', ts: T0, tags: tags(d), fields: { water_level: 1, seq: 0 } })),
    )
    await store.close()
    const db = new Database(join(dataDir, 'timeseries.db'))
    const series = db.prepare("SELECT id FROM series WHERE measurement = 'readings' ORDER BY id").all() as Array<{ id: number }>
    const field = (n: string) => (db.prepare('SELECT id FROM field_keys WHERE name = ?').get(n) as { id: number }).id
    const [wl, seq] = [field('water_level'), field('seq')]
    const ins = db.prepare('INSERT OR REPLACE INTO samples (series, field, ts, v, t) VALUES (?, ?, ?, ?, 0)')
    db.transaction(() => {
      for (const s of series)
        for (let i = 0; i < PER_DEVICE; i++) {
          ins.run(s.id, wl, T0 + i * 1000, 1 + (i % 500) / 100)
          ins.run(s.id, seq, T0 + i * 1000, i)
        }
    })()
    db.close()
    const gw = await spawnGateway({ dataDir, env: { IOC_CONFIG: configFile(), IOC_ADMIN_TOKEN: ADMIN } })
    try {
      await expectLeanExport('sqlite', gw)
    } finally {
      await stopGateway(gw)
    }
  }, 600_000)

  it('streams from InfluxDB with the gateway RSS growing by less than 50 MB', async () => {
    let influxd: Influxd | undefined
    let gw: GatewayProcess | undefined
    try {
      influxd = await startInfluxd()
      gw = await spawnGateway({
        dataDir: join(dir.path, 'influx'),
        env: { IOC_CONFIG: configFile(), IOC_ADMIN_TOKEN: ADMIN, IOC_INFLUX_URL: influxd.urlFor('ioc') },
      })
      // Set-up: line protocol straight to influxd, into the gateway's database and `raw` policy.
      for (let d = 0; d < DEVICES; d++) {
        for (let start = 0; start < PER_DEVICE; start += 50_000) {
          let body = ''
          for (let i = start; i < start + 50_000; i++)
            body += `readings,device=wl-${d},district=Ph\\ Xuan,kind=water_level,station=st-${d} water_level=${1 + (i % 500) / 100},seq=${i}i ${T0 + i * 1000}\n`
          const res = await fetch(`${influxd.url}/write?db=ioc&rp=raw&precision=ms`, { method: 'POST', body })
          expect(res.status, await res.text()).toBe(204)
        }
      }
      await waitFor(
        async () => {
          const r = await influxd!.query('SELECT count(seq) FROM "raw"."readings"', 'ioc')
          return r.results[0]?.series?.[0]?.values[0]?.[1] === TOTAL
        },
        60_000,
        500,
      )
      await expectLeanExport('influx', gw)
    } finally {
      if (gw) await stopGateway(gw)
      await influxd?.remove()
    }
  }, 600_000)
})
