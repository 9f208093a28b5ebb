import { join } from 'node:path'
import type {
  AggregateReadingsQuery,
  LatestFilter,
  LatestReadings,
  Point,
  PointQuery,
  QueriedPoint,
  RawReadingsQuery,
  StoreHealth,
  TimeSeriesStore,
  ValuePoint,
  SummaryQuery,
  SummaryRow,
  LevelDurationsQuery,
  LevelDurations,
  ScanQuery,
  PointScan,
} from '../types.ts'
import { levelDurationsInflux, summarizeInflux } from './summaries.ts'
import { SpoolDrainer } from './drainer.ts'
import { InfluxQueries } from './queries.ts'
import { RollupBackfill } from './rollup-backfill.ts'
import { InfluxState, type InfluxStoreOptions } from './state.ts'
import { InfluxWriter } from './writer.ts'

export type { InfluxStoreOptions } from './state.ts'

/**
 * InfluxDB 1.x store. Direct mode: points are batched in memory (bounded by `batchPoints`; further
 * writers wait) and a write resolves once InfluxDB accepted its batch. When a batch cannot be
 * delivered, the store switches to spool mode: that batch and every later write go to the disk
 * spool (fsync'd before the write resolves), and a drainer sends the spool to InfluxDB oldest
 * first, with exponential backoff, switching back to direct mode once the spool is empty.
 *
 * Its parts share one InfluxState (state.ts): the write path with the spill journal (writer.ts),
 * the spool drainer (drainer.ts) and the InfluxQL queries (queries.ts).
 */
export class InfluxTimeSeriesStore implements TimeSeriesStore {
  readonly backend = 'influx' as const
  readonly database: string
  private readonly s: InfluxState
  private readonly writer: InfluxWriter
  private readonly drainer: SpoolDrainer
  private readonly queries: InfluxQueries
  private readonly late: RollupBackfill
  private pingTimer: NodeJS.Timeout | null = null

  private constructor(opts: InfluxStoreOptions) {
    const s = new InfluxState(opts)
    this.s = s
    this.database = s.database
    this.queries = new InfluxQueries(s)
    this.late = new RollupBackfill({
      file: join(opts.dataDir, 'influx-late-rollups.jsonl'),
      database: s.database,
      run: (query) => this.queries.q(query, 'POST').then(() => undefined),
      logger: opts.logger,
      ready: () => s.mode === 'direct' && s.setupDone && s.reachable && !s.closed,
      ...(opts.rollupRecomputeMs !== undefined ? { intervalMs: opts.rollupRecomputeMs } : {}),
      onQuery: (ok) => s.m.recompute(ok),
      onPending: (n) => s.m.recomputePending(n),
    })
    this.writer = new InfluxWriter(s, this.late, () => this.drainer.enterSpoolMode())
    this.drainer = new SpoolDrainer(s, this.writer, this.queries)
  }

  /** Opens the store; InfluxDB being down is not an error (writes spool until it is back). */
  static async open(opts: InfluxStoreOptions): Promise<InfluxTimeSeriesStore> {
    const store = new InfluxTimeSeriesStore(opts)
    const s = store.s
    try {
      await store.drainer.setup()
    } catch (err) {
      s.reachable = false
      s.lastError = (err as Error).message
      opts.logger.warn(
        { err: (err as Error).message, db: s.database },
        'InfluxDB not ready at start; points go to the disk spool until it is',
      )
    }
    if (!s.setupDone || !s.spool.empty || s.replaySpills) store.drainer.enterSpoolMode()
    s.reportSpool()
    store.pingTimer = setInterval(() => void store.drainer.checkReachable(), opts.pingIntervalMs ?? 5000)
    store.pingTimer.unref()
    store.late.start()
    return store
  }

  write(points: readonly Point[]): Promise<void> {
    return this.writer.write(points)
  }

  readings(q: RawReadingsQuery): Promise<ValuePoint[]> {
    return this.queries.readings(q)
  }

  aggregate(q: AggregateReadingsQuery): Promise<ValuePoint[]> {
    return this.queries.aggregate(q)
  }

  latest(filter: LatestFilter): Promise<LatestReadings[]> {
    return this.queries.latest(filter)
  }

  queryPoints(q: PointQuery): Promise<QueriedPoint[]> {
    return this.queries.queryPoints(q)
  }

  summarize(q: SummaryQuery): Promise<SummaryRow[]> {
    return summarizeInflux((text) => this.queries.q(text), q)
  }

  levelDurations(q: LevelDurationsQuery): Promise<LevelDurations[]> {
    return levelDurationsInflux((text) => this.queries.q(text), q)
  }

  scan(q: ScanQuery): Promise<PointScan> {
    return this.queries.scan(q)
  }

  // ---- lifecycle ----

  health(): StoreHealth {
    const s = this.s
    const spool = s.onDisk()
    if (s.closed) return { ok: false, degraded: false, detail: 'closed', spool }
    if (s.mode === 'spool' || !s.reachable) {
      return {
        ok: s.spool.bytes <= s.maxSpoolBytes,
        degraded: true,
        detail: `InfluxDB ${s.reachable ? 'reachable, draining the spool' : `unreachable (${s.lastError || 'no answer to ping'})`}; ${spool.points} points spooled on disk`,
        spool,
      }
    }
    return { ok: true, degraded: false, detail: `influx ${s.database} ok`, spool }
  }

  async close(): Promise<void> {
    const s = this.s
    if (s.closed) return
    if (this.pingTimer) clearInterval(this.pingTimer)
    // Let the last direct batch go out (or reach the spool) before stopping.
    if (s.mode === 'direct') {
      this.writer.flush()
      while (s.flights.length > 0 || (s.mode === 'direct' && this.writer.batchLines > 0)) {
        await new Promise((r) => setTimeout(r, 10))
        this.writer.flush()
      }
    }
    s.closed = true
    s.stop.abort()
    this.writer.wakeRoomWaiters()
    await this.drainer.draining
    await this.late.close()
    // Appends still waiting reach the disk here; the rest stays in the spool for the next start.
    s.spool.close()
    s.spills.close()
    s.poster.close()
  }
}
