import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database, { type Database as Db, type Statement } from 'better-sqlite3'
import type { Logger } from '../../log/logger.ts'
import type { Metrics } from '../../metrics/registry.ts'
import { storeMetrics, type StoreMetrics } from '../metrics.ts'
import { FieldTypes, normalizePoints, seriesKey, type FieldType, type NewFieldType, type NormalPoint } from '../points.ts'
import {
  StoreError,
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
import { SqliteQueries, type Series } from './queries.ts'
import { migrate } from '../../sqlite/migrate.ts'
import { MIGRATIONS } from './migrations.ts'
import { RetentionSweeper } from './retention.ts'
import { sqliteScanFile } from './scan.ts'
import { T_BOOL, T_NUMBER, T_STRING } from './values.ts'

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

interface Pending {
  points: NormalPoint[]
  newTypes: readonly NewFieldType[]
  started: number
  resolve: () => void
  reject: (err: Error) => void
}

function encode(v: FieldValue): [number | string, number] {
  if (typeof v === 'number') return [v, T_NUMBER]
  if (typeof v === 'string') return [v, T_STRING]
  return [v ? 1 : 0, T_BOOL]
}

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
  private readonly queries: SqliteQueries
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
    this.queries = new SqliteQueries({
      db: this.db,
      seriesById: this.seriesById,
      fieldIds: this.fieldIds,
      fieldNames: this.fieldNames,
      seriesMatching: (measurement, where) => this.seriesMatching(measurement, where),
    })
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
    const latest = p.measurement === 'readings' || p.measurement === 'derived'
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

  // The reads are synchronous SQL; async keeps a thrown StoreError a rejection, as callers expect.
  async readings(q: RawReadingsQuery): Promise<ValuePoint[]> {
    return this.queries.readings(q)
  }

  async aggregate(q: AggregateReadingsQuery): Promise<ValuePoint[]> {
    return this.queries.aggregate(q)
  }

  async latest(filter: LatestFilter): Promise<LatestReadings[]> {
    return this.queries.latest(filter)
  }

  async queryPoints(q: PointQuery): Promise<QueriedPoint[]> {
    return this.queries.queryPoints(q)
  }

  async summarize(q: SummaryQuery): Promise<SummaryRow[]> {
    return this.queries.summarize(q)
  }

  async levelDurations(q: LevelDurationsQuery): Promise<LevelDurations[]> {
    return this.queries.levelDurations(q)
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
