import type { Database as Db } from 'better-sqlite3'
import { StoreError, type LevelDurations, type LevelDurationsQuery, type SummaryQuery, type SummaryRow } from '../types.ts'
import { T_STRING } from './values.ts'

// Report summaries (SummaryQuery, LevelDurationsQuery of gateway/store/types.ts) computed in SQL,
// so a month of readings is never brought into JavaScript. Only numeric samples count (t = 0 or 2),
// as InfluxDB's numeric functions do.

export interface SeriesRef {
  id: number
  tags: Record<string, string>
}

// Buckets aligned to the epoch, also for times before 1970 (SQLite's % keeps the dividend's sign).
const BUCKET = '(s.ts - ((s.ts % @every) + @every) % @every)'

/** Bucket widths of every bucketed query (summaries, aggregates) are whole milliseconds. */
export function assertEvery(every: number): void {
  if (!Number.isInteger(every) || every < 1) throw new StoreError('invalid', 'every must be a whole number of ms, at least 1')
}

/** Series ids mapped to group numbers by the values of `groupBy` tags. */
export function groupSeries(series: readonly SeriesRef[], groupBy: readonly string[]): { map: string; groups: Record<string, string>[] } {
  const index = new Map<string, number>()
  const groups: Record<string, string>[] = []
  const mapping: Array<[number, number]> = []
  for (const s of series) {
    const tags: Record<string, string> = {}
    for (const k of groupBy) if (s.tags[k] !== undefined) tags[k] = s.tags[k]!
    const key = JSON.stringify(tags)
    let g = index.get(key)
    if (g === undefined) {
      g = groups.length
      index.set(key, g)
      groups.push(tags)
    }
    mapping.push([s.id, g])
  }
  return { map: JSON.stringify(mapping), groups }
}

const G = `g(series, grp) AS (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(@map))`
const FROM = `FROM g JOIN samples s ON s.series = g.series WHERE s.field = @f AND s.ts >= @from AND s.ts < @to AND s.t != ${T_STRING}`

const SELECTOR_ORDER = { max: 's.v DESC, s.ts ASC', min: 's.v ASC, s.ts ASC', first: 's.ts ASC', last: 's.ts DESC' } as const

export function summarize(db: Db, q: SummaryQuery, series: readonly SeriesRef[], field: number): SummaryRow[] {
  if (q.every !== undefined) assertEvery(q.every)
  const { map, groups } = groupSeries(series, q.groupBy ?? [])
  const bucket = q.every !== undefined
  const args = { map, f: field, from: q.from, to: q.to, ...(bucket ? { every: q.every } : {}) }
  let rows: Array<{ grp: number; b: number | null; ts: number; v: number }>
  if (q.fn === 'sum' || q.fn === 'count') {
    const agg = q.fn === 'sum' ? 'total(s.v)' : 'count(*)'
    rows = db
      .prepare(
        `WITH ${G} SELECT g.grp AS grp, ${bucket ? BUCKET : 'NULL'} AS b, @from AS ts, ${agg} AS v ${FROM} GROUP BY g.grp${bucket ? ', b' : ''}`,
      )
      .all(args) as typeof rows
  } else {
    const part = bucket ? `g.grp, ${BUCKET}` : 'g.grp'
    rows = db
      .prepare(
        `WITH ${G}, x AS (SELECT g.grp AS grp, ${bucket ? BUCKET : 'NULL'} AS b, s.ts AS ts, s.v AS v,
           row_number() OVER (PARTITION BY ${part} ORDER BY ${SELECTOR_ORDER[q.fn]}) AS rn ${FROM})
         SELECT grp, b, ts, v FROM x WHERE rn = 1`,
      )
      .all(args) as typeof rows
  }
  return rows.map((r) => ({ tags: { ...groups[r.grp]! }, ts: r.b ?? r.ts, value: Number(r.v) })).sort((a, b) => a.ts - b.ts)
}

export function levelDurations(db: Db, q: LevelDurationsQuery, series: readonly SeriesRef[], field: number): LevelDurations[] {
  const th = [...q.thresholds]
  for (let i = 0; i < th.length; i++) {
    if (!Number.isFinite(th[i]!) || (i > 0 && th[i]! <= th[i - 1]!)) throw new StoreError('invalid', 'thresholds must be finite and rise')
  }
  const { map, groups } = groupSeries(series, q.groupBy ?? [])
  const level = th.length === 0 ? '0' : th.map((_, i) => `(v >= @t${i})`).join(' + ')
  const args: Record<string, number | string> = { map, f: field, from: q.from, to: q.to, hold: q.holdMaxMs }
  th.forEach((t, i) => (args[`t${i}`] = t))
  // A point holds its level until the group's next point (LEAD), capped at holdMaxMs; points of a
  // group at the same time are one, with their highest value.
  const rows = db
    .prepare(
      `WITH ${G},
         pts AS (SELECT g.grp AS grp, s.ts AS ts, max(s.v) AS v ${FROM} GROUP BY g.grp, s.ts),
         lv AS (SELECT grp, ts, ${level} AS lvl, lead(ts, 1, @to) OVER (PARTITION BY grp ORDER BY ts) AS nxt FROM pts)
       SELECT grp, lvl, sum(min(nxt - ts, @hold)) AS dur, min(ts) AS first, count(*) AS n FROM lv GROUP BY grp, lvl`,
    )
    .all(args) as Array<{ grp: number; lvl: number; dur: number; first: number; n: number }>
  const out = new Map<number, LevelDurations>()
  for (const r of rows) {
    let d = out.get(r.grp)
    if (!d) {
      d = {
        tags: { ...groups[r.grp]! },
        points: 0,
        durations: new Array<number>(th.length + 1).fill(0),
        first: new Array<number | null>(th.length + 1).fill(null),
      }
      out.set(r.grp, d)
    }
    d.points += r.n
    d.durations[r.lvl] = r.dur
    d.first[r.lvl] = r.first
  }
  return [...out.values()]
}
