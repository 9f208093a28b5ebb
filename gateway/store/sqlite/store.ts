import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database, { type Database as Db, type Statement } from 'better-sqlite3'
import type { Logger } from '../../log/logger.ts'
import type { Metrics } from '../../metrics/registry.ts'
import { storeMetrics, type StoreMetrics } from '../metrics.ts'
import { FieldTypes, normalizePoints, seriesKey, sortPoints, type FieldType, type NewFieldType, type NormalPoint } from '../points.ts'
import {
  MAX_QUERY_POINTS,
  MAX_READINGS_POINTS,
  StoreError,
  type AggregateFn,
  type AggregateReadingsQuery,
  type FieldValue,
  type LatestFilter,
  type LatestReadings,
  type Point,
  type PointQuery,
  type PointScan,
  type QueriedPoint,
  type ScanQuery,
  type RawReadingsQuery,
  type StoreHealth,
  type TimeSeriesStore,
  type ValuePoint,
  type SummaryQuery,
  type SummaryRow,
  type LevelDurationsQuery,
  type LevelDurations,
} from '../types.ts'
import { levelDurations, summarize } from './summaries.ts'
import { migrate } from '../../sqlite/migrate.ts'
import { MIGRATIONS } from './migrations.ts'
import { RetentionSweeper } from './retention.ts'
import { sqliteScanFile } from './scan.ts'
import { decode, T_BOOL, T_NUMBER, T_STRING } from './values.ts'

export interface SqliteStoreOptions {
  dataDir: string
  logger: Logger
  metrics: Metrics
  /**
   * FULL (default) fsyncs the WAL at each commit, so an acknowledged point survives a power cut;
   * NORMAL survives a process crash (kill -9) but not an OS crash.
   */
  synchronous?: 'FULL' | 'NORMAL'
  /** Group commit: a transaction is committed at once when this many points wait. */
  maxBatchPoints?: number
  /** Raw samples older than this many days are deleted (default 90, as InfluxDB's `raw` policy). */
  retentionDays?: number
  /** How often the retention sweep runs (default hourly; the first one a minute after opening). */
  retentionSweepMs?: number
}

interface Series {
  id: number
  measurement: string
  tags: Record<string, string>
}

interface Pending {
  points: NormalPoint[]
  newTypes: readonly NewFieldType[]
  started: number
  resolve: () => void
  reject: (err: Error) => void
}

type Row = { ts: number; v: number | string; t: number }

function encode(v: FieldValue): [number | string, number] {
  if (typeof v === 'number') return [v, T_NUMBER]
  if (typeof v === 'string') return [v, T_STRING]
  return [v ? 1 : 0, T_BOOL]
}

const AGG_SQL: Record<Exclude<AggregateFn, 'last'>, string> = { mean: 'avg(v)', min: 'min(v)', max: 'max(v)' }

// Buckets aligned to the epoch, also for times before 1970 (SQLite's % keeps the dividend's sign).
const BUCKET = '(ts - ((ts % @every) + @every) % @every)'

export class SqliteTimeSeriesStore implements TimeSeriesStore {
  readonly backend = 'sqlite' as const
  private readonly db: Db
  private readonly m: StoreMetrics
  private readonly series = new Map<string, Series>()
  private readonly seriesById = new Map<number, Series>()
  private readonly fieldIds = new Map<string, number>()
  private readonly fieldNames = new Map<number, string>()
  private readonly types = new FieldTypes()
  private pending: Pending[] = []
  private pendingPoints = 0
  private scheduled = false
  private closed = false
  private readonly maxBatch: number
  private lastError: string | null = null
  private readonly retentionDays: number
  private readonly retention: RetentionSweeper
  private readonly sweepTimers: NodeJS.Timeout[]
  private readonly st: {
    insSeries: Statement
    insField: Statement
    insType: Statement
    upsert: Statement
    upsertLatest: Statement
  }

  constructor(private readonly opts: SqliteStoreOptions) {
    mkdirSync(opts.dataDir, { recursive: true })
    this.db = new Database(join(opts.dataDir, 'timeseries.db'))
    this.db.pragma('journal_mode = WAL')
    this.db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`)
    this.db.pragma('busy_timeout = 5000')
    // Readings of many devices interleave in time but are clustered per series: a commit touches
    // pages all over the table, and a small cache would read them back again and again.
    this.db.pragma('cache_size = -65536') // KiB: 64 MiB
    migrate(this.db, MIGRATIONS)
    this.maxBatch = opts.maxBatchPoints ?? 5000
    this.m = storeMetrics(opts.metrics, 'sqlite')
    this.loadCaches()
    this.st = {
      insSeries: this.db.prepare('INSERT INTO series (key, measurement, tags) VALUES (?, ?, ?)'),
      insField: this.db.prepare('INSERT INTO field_keys (name) VALUES (?)'),
      insType: this.db.prepare('INSERT OR IGNORE INTO field_types (measurement, field, type) VALUES (?, ?, ?)'),
      upsert: this.db.prepare('INSERT OR REPLACE INTO samples (series, field, ts, v, t) VALUES (?, ?, ?, ?, ?)'),
      upsertLatest: this.db.prepare(
        `INSERT INTO latest (series, field, ts, v, t) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (series, field) DO UPDATE SET ts = excluded.ts, v = excluded.v, t = excluded.t
         WHERE excluded.ts >= latest.ts`,
      ),
    }
    this.retentionDays = opts.retentionDays ?? 90
    this.retention = new RetentionSweeper(this.db, { retentionMs: this.retentionDays * 86_400_000 })
    const every = opts.retentionSweepMs ?? 3_600_000
    this.sweepTimers = [
      setTimeout(() => void this.sweepRetention(), Math.min(every, 60_000)),
      setInterval(() => void this.sweepRetention(), every),
    ]
    for (const t of this.sweepTimers) t.unref()
  }

  /** Runs the retention sweep now (it also runs on its own timer); answers the rows deleted. */
  async sweepRetention(now = Date.now()): Promise<number> {
    if (this.closed) return 0
    try {
      const n = await this.retention.sweep(now)
      this.m.expired(n)
      if (n > 0) this.opts.logger.info({ deleted: n, retentionDays: this.retentionDays }, 'time-series retention: old samples deleted')
      return n
    } catch (err) {
      if (this.closed) return 0
      this.m.failure('retention')
      this.opts.logger.error({ err }, 'time-series retention sweep failed')
      return 0
    }
  }

  private loadCaches(): void {
    this.series.clear()
    this.seriesById.clear()
    this.fieldIds.clear()
    this.fieldNames.clear()
    this.types.clear()
    for (const r of this.db.prepare('SELECT measurement, field, type FROM field_types').all() as Array<{
      measurement: string
      field: string
      type: FieldType
    }>) {
      this.types.set(r.measurement, r.field, r.type)
    }
    for (const r of this.db.prepare('SELECT id, measurement, tags, key FROM series').all() as Array<{
      id: number
      measurement: string
      tags: string
      key: string
    }>) {
      const s = { id: r.id, measurement: r.measurement, tags: JSON.parse(r.tags) as Record<string, string> }
      this.series.set(r.key, s)
      this.seriesById.set(r.id, s)
    }
    for (const r of this.db.prepare('SELECT id, name FROM field_keys').all() as Array<{ id: number; name: string }>) {
      this.fieldIds.set(r.name, r.id)
      this.fieldNames.set(r.id, r.name)
    }
  }

  write(points: readonly Point[]): Promise<void> {
    if (this.closed) return Promise.reject(new StoreError('closed', 'time-series store is closed'))
    let normal: ReturnType<typeof normalizePoints>
    try {
      normal = normalizePoints(points, this.types)
    } catch (err) {
      return Promise.reject(err as Error)
    }
    const { points: norm, fresh: newTypes } = normal
    if (norm.length === 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.pending.push({ points: norm, newTypes, started: performance.now(), resolve, reject })
      this.pendingPoints += norm.length
      // Group commit: writes arriving in the same turn of the event loop share one transaction
      // (one fsync); a full batch commits at once so memory stays bounded.
      if (this.pendingPoints >= this.maxBatch) this.commit()
      else if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => this.commit())
      }
    })
  }

  private commit(): void {
    this.scheduled = false
    const batch = this.pending
    if (batch.length === 0) return
    this.pending = []
    const n = this.pendingPoints
    this.pendingPoints = 0
    try {
      this.db.transaction(() => {
        for (const w of batch) {
          for (const t of w.newTypes) this.st.insType.run(t.measurement, t.field, t.type)
          for (const p of w.points) this.insert(p)
        }
      })()
    } catch (err) {
      // Nothing of this group is committed: callers must not acknowledge.
      this.lastError = (err as Error).message
      this.m.failure('io')
      this.loadCaches() // series, field ids and types made inside the rolled-back transaction are gone
      this.opts.logger.error({ err, points: n }, 'time-series write failed')
      for (const w of batch) w.reject(new StoreError('unavailable', `time-series write failed: ${(err as Error).message}`))
      return
    }
    this.lastError = null
    this.m.written(n)
    this.m.delivered(n)
    const now = performance.now()
    for (const w of batch) {
      this.m.latency((now - w.started) / 1000)
      w.resolve()
    }
  }

  private insert(p: NormalPoint): void {
    const key = seriesKey(p)
    let s = this.series.get(key)
    if (!s) {
      const tags = Object.fromEntries(p.tags)
      const id = Number(this.st.insSeries.run(key, p.measurement, JSON.stringify(tags)).lastInsertRowid)
      s = { id, measurement: p.measurement, tags }
      // A rolled-back transaction would leave this id stale: commit() reloads the caches then.
      this.series.set(key, s)
      this.seriesById.set(id, s)
    }
    const latest = p.measurement === 'readings'
    for (const name in p.fields) {
      const f = this.fieldId(name)
      const [v, t] = encode(p.fields[name]!)
      this.st.upsert.run(s.id, f, p.ts, v, t)
      if (latest) this.st.upsertLatest.run(s.id, f, p.ts, v, t)
    }
  }

  private fieldId(name: string): number {
    let id = this.fieldIds.get(name)
    if (id === undefined) {
      id = Number(this.st.insField.run(name).lastInsertRowid)
      this.fieldIds.set(name, id)
      this.fieldNames.set(id, name)
    }
    return id
  }

  private seriesMatching(measurement: string, where: Readonly<Record<string, string | undefined>>): Series[] {
    const conds = Object.entries(where).filter((e): e is [string, string] => e[1] !== undefined)
    const out: Series[] = []
    for (const s of this.seriesById.values()) {
      if (s.measurement !== measurement) continue
      if (conds.every(([k, v]) => s.tags[k] === v)) out.push(s)
    }
    return out
  }

  async readings(q: RawReadingsQuery): Promise<ValuePoint[]> {
    const ids = this.seriesMatching('readings', { device: q.device }).map((s) => s.id)
    const f = this.fieldIds.get(q.metric)
    if (ids.length === 0 || f === undefined) return []
    const order = q.order === 'desc' ? 'DESC' : 'ASC'
    const rows = this.db
      .prepare(
        `SELECT ts, v, t FROM samples
         WHERE series IN (SELECT value FROM json_each(@ids)) AND field = @f AND ts >= @from AND ts < @to
         ORDER BY ts ${order} LIMIT @limit`,
      )
      .all({ ids: JSON.stringify(ids), f, from: q.from, to: q.to, limit: Math.min(q.limit, MAX_READINGS_POINTS) }) as Row[]
    return rows.map((r) => ({ ts: r.ts, value: decode(r.v, r.t) }))
  }

  async aggregate(q: AggregateReadingsQuery): Promise<ValuePoint[]> {
    const ids = this.seriesMatching('readings', { device: q.device }).map((s) => s.id)
    const f = this.fieldIds.get(q.metric)
    if (ids.length === 0 || f === undefined) return []
    assertEvery(q.every)
    const limit = Math.min(q.limit ?? MAX_QUERY_POINTS, MAX_READINGS_POINTS)
    const select = q.fn === 'last' ? `${BUCKET} AS b, v, t, max(ts)` : `${BUCKET} AS b, ${AGG_SQL[q.fn]} AS v, ${T_NUMBER} AS t`
    // mean/min/max read numbers only, as InfluxDB does.
    const typeCond = q.fn === 'last' ? '' : `AND t != ${T_STRING}`
    const rows = this.db
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

  async latest(filter: LatestFilter): Promise<LatestReadings[]> {
    const series = this.seriesMatching('readings', { kind: filter.kind, station: filter.station, device: filter.device })
    const ids = series.filter((s) => s.tags.device !== undefined).map((s) => s.id)
    if (ids.length === 0) return []
    const rows = this.db
      .prepare('SELECT series, field, ts, v, t FROM latest WHERE series IN (SELECT value FROM json_each(?))')
      .all(JSON.stringify(ids)) as Array<{ series: number; field: number; ts: number; v: number | string; t: number }>
    const byDevice = new Map<string, LatestReadings & { fieldTs: Record<string, number> }>()
    for (const r of rows) {
      const s = this.seriesById.get(r.series)!
      const name = this.fieldNames.get(r.field)!
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

  async queryPoints(q: PointQuery): Promise<QueriedPoint[]> {
    const series = this.seriesMatching(q.measurement, q.where ?? {})
    if (series.length === 0) return []
    const limit = Math.min(q.limit ?? MAX_QUERY_POINTS, MAX_QUERY_POINTS)
    const fieldIds = q.fields ? q.fields.map((n) => this.fieldIds.get(n)).filter((x): x is number => x !== undefined) : null
    if (fieldIds !== null && fieldIds.length === 0) return []
    const fieldCond = fieldIds ? 'AND field IN (SELECT value FROM json_each(@fields))' : ''
    const order = q.order === 'desc' ? 'DESC' : 'ASC'
    if (q.every !== undefined || q.fn !== undefined) {
      if (q.every === undefined || q.fn === undefined) throw new StoreError('invalid', 'aggregation needs both every and fn')
      if (!q.fields) throw new StoreError('invalid', 'aggregation needs the list of fields')
      assertEvery(q.every)
      return this.aggregatePoints(q, series, fieldIds!, limit, order)
    }
    const stmt = this.db.prepare(
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
        cur = { ts: r.ts, tags: { ...this.seriesById.get(r.series)!.tags }, fields: {} }
        curSeries = r.series
        out.push(cur)
      }
      cur.fields[this.fieldNames.get(r.field)!] = decode(r.v, r.t)
    }
    return out
  }

  private aggregatePoints(q: PointQuery, series: Series[], fieldIds: number[], limit: number, order: string): QueriedPoint[] {
    const groupBy = q.groupBy ?? []
    const groups = new Map<string, number>()
    const groupTags: Record<string, string>[] = []
    const mapping: [number, number][] = []
    for (const s of series) {
      const tags: Record<string, string> = {}
      for (const k of groupBy) if (s.tags[k] !== undefined) tags[k] = s.tags[k]!
      const key = JSON.stringify(tags)
      let g = groups.get(key)
      if (g === undefined) {
        g = groupTags.length
        groups.set(key, g)
        groupTags.push(tags)
      }
      mapping.push([s.id, g])
    }
    const fn = q.fn!
    const select = fn === 'last' ? 'v, s.t AS t, max(ts)' : `${AGG_SQL[fn]} AS v, ${T_NUMBER} AS t`
    const typeCond = fn === 'last' ? '' : `AND s.t != ${T_STRING}`
    const rows = this.db
      .prepare(
        `WITH g(series, grp) AS (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(@map))
         SELECT g.grp AS grp, s.field AS field, ${BUCKET} AS b, ${select}
         FROM g JOIN samples s ON s.series = g.series
         WHERE s.field IN (SELECT value FROM json_each(@fields)) AND ts >= @from AND ts < @to ${typeCond}
         GROUP BY g.grp, s.field, b
         ORDER BY b ${order}, g.grp`,
      )
      .all({ map: JSON.stringify(mapping), fields: JSON.stringify(fieldIds), from: q.from, to: q.to, every: q.every }) as Array<{
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
      p.fields[this.fieldNames.get(r.field)!] = decode(r.v, r.t)
    }
    return sortPoints(out, order === 'DESC' ? 'DESC' : 'ASC').slice(0, limit)
  }

  async summarize(q: SummaryQuery): Promise<SummaryRow[]> {
    const series = this.seriesMatching(q.measurement, q.where ?? {})
    const f = this.fieldIds.get(q.field)
    if (series.length === 0 || f === undefined) return []
    return summarize(this.db, q, series, f)
  }

  async levelDurations(q: LevelDurationsQuery): Promise<LevelDurations[]> {
    const series = this.seriesMatching(q.measurement, q.where ?? {})
    const f = this.fieldIds.get(q.field)
    if (series.length === 0 || f === undefined) return []
    return levelDurations(this.db, q, series, f)
  }

  async scan(q: ScanQuery): Promise<PointScan> {
    if (this.closed) throw new StoreError('closed', 'time-series store is closed')
    const places = q.places
    const series = this.seriesMatching(q.measurement, q.where ?? {}).filter(
      (s) =>
        !places ||
        (s.tags.station !== undefined && places.stations.includes(s.tags.station)) ||
        (s.tags.district !== undefined && places.districts.includes(s.tags.district)),
    )
    const names = (
      this.db.prepare('SELECT field FROM field_types WHERE measurement = ? ORDER BY field').all(q.measurement) as Array<{ field: string }>
    ).map((r) => r.field)
    const fields = names
      .map((name) => ({ id: this.fieldIds.get(name), name }))
      .filter((f): f is { id: number; name: string } => f.id !== undefined)
    const file = join(this.opts.dataDir, 'timeseries.db')
    const isClosed = () => this.closed
    async function* pages(): AsyncGenerator<QueriedPoint[]> {
      for (const page of sqliteScanFile(file, series, fields, q.from, q.to)) {
        yield page
        if (isClosed()) throw new StoreError('closed', 'time-series store closed during the export')
      }
    }
    const source = {
      store: 'sqlite' as const,
      file,
      series: series.map((s) => ({ id: s.id, tags: s.tags })),
      fields,
      from: q.from,
      to: q.to,
    }
    return { fields: names, pages: pages(), source }
  }

  health(): StoreHealth {
    if (this.closed) return { ok: false, degraded: false, detail: 'closed' }
    if (this.lastError) return { ok: false, degraded: false, detail: `sqlite: last write failed: ${this.lastError}` }
    return { ok: true, degraded: false, detail: 'sqlite ok' }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.commit()
    this.closed = true
    for (const t of this.sweepTimers) clearTimeout(t)
    // A sweep in progress stops at its next slice; the database closes once it has.
    await this.retention.stop()
    this.db.close()
  }
}

function assertEvery(every: number): void {
  if (!Number.isInteger(every) || every < 1) throw new StoreError('invalid', 'every must be a whole number of ms, at least 1')
}
