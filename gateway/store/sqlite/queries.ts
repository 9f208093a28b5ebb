// The SQL reads of the SQLite store that the API and the reports make: readings, latest values,
// point queries and their aggregates, report summaries. New queries go here, beside these.
import type { Database as Db } from 'better-sqlite3'
import { sortPoints } from '../points.ts'
import {
  MAX_QUERY_POINTS,
  MAX_READINGS_POINTS,
  StoreError,
  type AggregateFn,
  type AggregateReadingsQuery,
  type LatestFilter,
  type LatestReadings,
  type LevelDurations,
  type LevelDurationsQuery,
  type PointQuery,
  type QueriedPoint,
  type RawReadingsQuery,
  type SummaryQuery,
  type SummaryRow,
  type ValuePoint,
} from '../types.ts'
import { assertEvery, groupSeries, levelDurations, summarize } from './summaries.ts'
import { decode, T_NUMBER, T_STRING } from './values.ts'

export interface Series {
  id: number
  measurement: string
  tags: Record<string, string>
}

/** What the queries read of the store: its database and its caches of series and field ids (kept by store.ts). */
export interface SqliteCatalog {
  readonly db: Db
  readonly seriesById: ReadonlyMap<number, Series>
  readonly fieldIds: ReadonlyMap<string, number>
  readonly fieldNames: ReadonlyMap<number, string>
  seriesMatching(measurement: string, where: Readonly<Record<string, string | undefined>>): Series[]
}

type Row = { ts: number; v: number | string; t: number }

const AGG_SQL: Record<Exclude<AggregateFn, 'last'>, string> = { mean: 'avg(v)', min: 'min(v)', max: 'max(v)' }

// Buckets aligned to the epoch, also for times before 1970 (SQLite's % keeps the dividend's sign).
const BUCKET = '(ts - ((ts % @every) + @every) % @every)'

export class SqliteQueries {
  constructor(private readonly c: SqliteCatalog) {}

  readings(q: RawReadingsQuery): ValuePoint[] {
    const ids = this.c.seriesMatching('readings', { device: q.device }).map((s) => s.id)
    const f = this.c.fieldIds.get(q.metric)
    if (ids.length === 0 || f === undefined) return []
    const order = q.order === 'desc' ? 'DESC' : 'ASC'
    const rows = this.c.db
      .prepare(
        `SELECT ts, v, t FROM samples
         WHERE series IN (SELECT value FROM json_each(@ids)) AND field = @f AND ts >= @from AND ts < @to
         ORDER BY ts ${order} LIMIT @limit`,
      )
      .all({ ids: JSON.stringify(ids), f, from: q.from, to: q.to, limit: Math.min(q.limit, MAX_READINGS_POINTS) }) as Row[]
    return rows.map((r) => ({ ts: r.ts, value: decode(r.v, r.t) }))
  }

  aggregate(q: AggregateReadingsQuery): ValuePoint[] {
    const ids = this.c.seriesMatching('readings', { device: q.device }).map((s) => s.id)
    const f = this.c.fieldIds.get(q.metric)
    if (ids.length === 0 || f === undefined) return []
    assertEvery(q.every)
    const limit = Math.min(q.limit ?? MAX_QUERY_POINTS, MAX_READINGS_POINTS)
    const select = q.fn === 'last' ? `${BUCKET} AS b, v, t, max(ts)` : `${BUCKET} AS b, ${AGG_SQL[q.fn]} AS v, ${T_NUMBER} AS t`
    // mean/min/max read numbers only, as InfluxDB does.
    const typeCond = q.fn === 'last' ? '' : `AND t != ${T_STRING}`
    const rows = this.c.db
      .prepare(
        `SELECT ${select} FROM samples
         WHERE series IN (SELECT value FROM json_each(@ids)) AND field = @f AND ts >= @from AND ts < @to ${typeCond}
         GROUP BY b ORDER BY b LIMIT @limit`,
      )
      .all({ ids: JSON.stringify(ids), f, from: q.from, to: q.to, every: q.every, limit }) as Array<{
      b: number
      v: number | string
      t: number
    }>
    return rows.map((r) => ({ ts: r.b, value: decode(r.v, r.t) }))
  }

  latest(filter: LatestFilter): LatestReadings[] {
    const series = this.c.seriesMatching(filter.measurement ?? 'readings', {
      kind: filter.kind,
      station: filter.station,
      device: filter.device,
    })
    const ids = series.filter((s) => s.tags.device !== undefined).map((s) => s.id)
    if (ids.length === 0) return []
    const rows = this.c.db
      .prepare('SELECT series, field, ts, v, t FROM latest WHERE series IN (SELECT value FROM json_each(?))')
      .all(JSON.stringify(ids)) as Array<{ series: number; field: number; ts: number; v: number | string; t: number }>
    const byDevice = new Map<string, LatestReadings & { fieldTs: Record<string, number> }>()
    for (const r of rows) {
      const s = this.c.seriesById.get(r.series)!
      const name = this.c.fieldNames.get(r.field)!
      const device = s.tags.device!
      let item = byDevice.get(device)
      if (!item) {
        item = { device, tags: { ...s.tags }, ts: r.ts, values: {}, fieldTs: {} }
        byDevice.set(device, item)
      }
      if (r.ts > item.ts) {
        item.ts = r.ts
        item.tags = { ...s.tags }
      }
      if (name === 'seq') continue
      if (item.fieldTs[name] === undefined || r.ts >= item.fieldTs[name]!) {
        item.fieldTs[name] = r.ts
        item.values[name] = decode(r.v, r.t)
      }
    }
    return [...byDevice.values()]
      .map(({ fieldTs: _unused, ...item }) => item)
      .sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0))
  }

  queryPoints(q: PointQuery): QueriedPoint[] {
    const series = this.c.seriesMatching(q.measurement, q.where ?? {})
    if (series.length === 0) return []
    const limit = Math.min(q.limit ?? MAX_QUERY_POINTS, MAX_QUERY_POINTS)
    const fieldIds = q.fields ? q.fields.map((n) => this.c.fieldIds.get(n)).filter((x): x is number => x !== undefined) : null
    if (fieldIds !== null && fieldIds.length === 0) return []
    const fieldCond = fieldIds ? 'AND field IN (SELECT value FROM json_each(@fields))' : ''
    const order = q.order === 'desc' ? 'DESC' : 'ASC'
    if (q.every !== undefined || q.fn !== undefined) {
      if (q.every === undefined || q.fn === undefined) throw new StoreError('invalid', 'aggregation needs both every and fn')
      if (!q.fields) throw new StoreError('invalid', 'aggregation needs the list of fields')
      assertEvery(q.every)
      return this.aggregatePoints(q, series, fieldIds!, limit, order)
    }
    const stmt = this.c.db.prepare(
      `SELECT series, field, ts, v, t FROM samples
       WHERE series IN (SELECT value FROM json_each(@ids)) ${fieldCond} AND ts >= @from AND ts < @to
       ORDER BY ts ${order}, series`,
    )
    const out: QueriedPoint[] = []
    let cur: QueriedPoint | null = null
    let curSeries = -1
    for (const r of stmt.iterate({
      ids: JSON.stringify(series.map((s) => s.id)),
      fields: JSON.stringify(fieldIds),
      from: q.from,
      to: q.to,
    }) as Iterable<{ series: number; field: number; ts: number; v: number | string; t: number }>) {
      if (!cur || cur.ts !== r.ts || curSeries !== r.series) {
        if (out.length === limit) break
        cur = { ts: r.ts, tags: { ...this.c.seriesById.get(r.series)!.tags }, fields: {} }
        curSeries = r.series
        out.push(cur)
      }
      cur.fields[this.c.fieldNames.get(r.field)!] = decode(r.v, r.t)
    }
    return out
  }

  private aggregatePoints(q: PointQuery, series: Series[], fieldIds: number[], limit: number, order: string): QueriedPoint[] {
    const { map, groups: groupTags } = groupSeries(series, q.groupBy ?? [])
    const fn = q.fn!
    const select = fn === 'last' ? 'v, s.t AS t, max(ts)' : `${AGG_SQL[fn]} AS v, ${T_NUMBER} AS t`
    const typeCond = fn === 'last' ? '' : `AND s.t != ${T_STRING}`
    const rows = this.c.db
      .prepare(
        `WITH g(series, grp) AS (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(@map))
         SELECT g.grp AS grp, s.field AS field, ${BUCKET} AS b, ${select}
         FROM g JOIN samples s ON s.series = g.series
         WHERE s.field IN (SELECT value FROM json_each(@fields)) AND ts >= @from AND ts < @to ${typeCond}
         GROUP BY g.grp, s.field, b
         ORDER BY b ${order}, g.grp`,
      )
      .all({ map, fields: JSON.stringify(fieldIds), from: q.from, to: q.to, every: q.every }) as Array<{
      grp: number
      field: number
      b: number
      v: number | string
      t: number
    }>
    const out: QueriedPoint[] = []
    const index = new Map<string, QueriedPoint>()
    for (const r of rows) {
      const key = `${r.b}/${r.grp}`
      let p = index.get(key)
      if (!p) {
        p = { ts: r.b, tags: { ...groupTags[r.grp]! }, fields: {} }
        index.set(key, p)
        out.push(p)
      }
      p.fields[this.c.fieldNames.get(r.field)!] = decode(r.v, r.t)
    }
    return sortPoints(out, order === 'DESC' ? 'DESC' : 'ASC').slice(0, limit)
  }

  summarize(q: SummaryQuery): SummaryRow[] {
    const series = this.c.seriesMatching(q.measurement, q.where ?? {})
    const f = this.c.fieldIds.get(q.field)
    if (series.length === 0 || f === undefined) return []
    return summarize(this.c.db, q, series, f)
  }

  levelDurations(q: LevelDurationsQuery): LevelDurations[] {
    const series = this.c.seriesMatching(q.measurement, q.where ?? {})
    const f = this.c.fieldIds.get(q.field)
    if (series.length === 0 || f === undefined) return []
    return levelDurations(this.c.db, q, series, f)
  }
}
