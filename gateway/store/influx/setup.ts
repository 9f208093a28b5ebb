import type { InfluxDB } from 'influx'
import { ident } from './line.ts'

// Database, retention policies and continuous queries of docs/data-model.md. Run at every start
// (and again after InfluxDB comes back empty): each step is idempotent.

const RAW_DAYS = 90
/** How far back raw points are kept, so how far back a late point can still land. */
export const RAW_RETENTION_MS = RAW_DAYS * 86_400_000

export const RETENTION = [
  { name: 'raw', duration: `${RAW_DAYS}d`, isDefault: true },
  { name: 'rollup_1m', duration: '400d', isDefault: false },
  { name: 'rollup_1h', duration: 'INF', isDefault: false },
] as const

/** Fields rolled up per measurement: the mean of each, kept under the same name. */
export const ROLLUP_FIELDS = {
  readings: [
    'water_level',
    'rainfall',
    'interval_s',
    'pm25',
    'pm10',
    'no2',
    'so2',
    'o3',
    'co',
    'temperature',
    'humidity',
    'battery',
    'rssi',
  ],
  derived: ['alarm_level', 'rise_rate', 'aqi'],
  detections: ['car', 'motorcycle', 'bus', 'truck', 'bicycle', 'occupancy', 'congestion', 'water_ratio'],
} as const

/**
 * Extra aggregates beside the means, for the boards: rainfall totals per bucket (a mean of
 * interval rainfall means little on a bar chart) and the bucket's highest water level and alarm.
 */
const ROLLUP_EXTRA: Record<keyof typeof ROLLUP_FIELDS, string[]> = {
  readings: ['sum("rainfall") AS "rainfall_sum"', 'max("water_level") AS "water_level_max"'],
  derived: ['max("alarm_level") AS "alarm_level_max"'],
  detections: [],
}

/**
 * Each bucket is computed twice, one and two intervals after it closes (RESAMPLE ... FOR two
 * intervals), so points that reach InfluxDB up to an interval after their bucket closed are in it.
 * Later points (a replay after an outage, a clock running behind) are not left to a wider window,
 * which would rescan every point at each run (FOR 30m: thirty times, more work than storing them
 * at 50,000 readings/s): their series' buckets are recomputed once they land (rollup-backfill.ts).
 */
export const ROLLUPS = [
  { suffix: '1m', rp: 'rollup_1m', every: '1m', resampleFor: '2m' },
  { suffix: '1h', rp: 'rollup_1h', every: '1h', resampleFor: '2h' },
] as const

export type RolledUp = keyof typeof ROLLUP_FIELDS

/** A rollup's statement; `where` (InfluxQL conditions) narrows it to some series and times. */
export function rollupQuery(db: string, m: RolledUp, r: (typeof ROLLUPS)[number], where?: string): string {
  const select = [...ROLLUP_FIELDS[m].map((f) => `mean(${ident(f)}) AS ${ident(f)}`), ...ROLLUP_EXTRA[m]].join(', ')
  return `SELECT ${select} INTO ${ident(db)}.${ident(r.rp)}.${ident(`${m}_${r.suffix}`)} FROM ${ident(db)}.${ident('raw')}.${ident(m)}${where ? ` WHERE ${where}` : ''} GROUP BY time(${r.every}), *`
}

export function continuousQueries(db: string): Array<{ name: string; resample: string; query: string }> {
  const out: Array<{ name: string; resample: string; query: string }> = []
  for (const m of Object.keys(ROLLUP_FIELDS) as RolledUp[]) {
    for (const r of ROLLUPS)
      out.push({ name: `cq_${m}_${r.suffix}`, resample: `RESAMPLE EVERY ${r.every} FOR ${r.resampleFor}`, query: rollupQuery(db, m, r) })
  }
  return out
}

/**
 * The one-time copy of derived values written inside readings (before `derived` existed) into
 * `derived`, one point per reading at its own time (docs/data-model.md, "Migration").
 */
export const DERIVED_MIGRATION =
  'SELECT "alarm_level", "rise_rate", "aqi", "aqi_dominant" INTO "raw"."derived" FROM "raw"."readings" GROUP BY *'

export async function setupInflux(influx: InfluxDB, db: string): Promise<void> {
  await influx.createDatabase(db)
  const existing = new Set((await influx.showRetentionPolicies(db)).map((r) => r.name))
  for (const rp of RETENTION) {
    const opts = { database: db, duration: rp.duration, replication: 1, isDefault: rp.isDefault }
    if (existing.has(rp.name)) await influx.alterRetentionPolicy(rp.name, opts)
    else await influx.createRetentionPolicy(rp.name, opts)
  }
  const cqs = new Map((await influx.showContinousQueries(db)).map((c) => [c.name, c.query]))
  for (const cq of continuousQueries(db)) {
    const have = cqs.get(cq.name)
    // InfluxDB shows the statement with identifiers unquoted; an unchanged rollup is left alone so a
    // restart does not skip a run, a changed one is replaced.
    const want = `CREATE CONTINUOUS QUERY ${cq.name} ON ${db} ${cq.resample} BEGIN ${cq.query} END`
    if (have !== undefined && have.replace(/"/g, '') === want.replace(/"/g, '')) continue
    if (have !== undefined) await influx.dropContinuousQuery(cq.name, db)
    await influx.createContinuousQuery(cq.name, cq.query, db, cq.resample)
  }
}
