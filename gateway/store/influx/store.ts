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
import { StoreError } from '../types.ts'
import { FieldTypes, normalizePoints } from '../points.ts'
import { levelDurationsInflux, summarizeInflux } from './summaries.ts'
import type { InfluxStoreOptions } from './state.ts'
import { InfluxTarget } from './target.ts'
import { ReadRouter, targetLayouts, targetUrls } from './targets.ts'

export type { InfluxStoreOptions } from './state.ts'

/**
 * InfluxDB 1.x store, on one server or several (`urls`: 1.x open source has no clustering, so
 * the gateway writes every point to each itself). Per server (target.ts): direct mode, where
 * points are batched in memory (bounded by `batchPoints`; further writers wait) and a write is
 * durable once InfluxDB accepted its batch; when a batch cannot be delivered, spool mode, where
 * that batch and every later write go to that server's disk spool (fsync'd), and a drainer sends
 * the spool to it oldest first, with exponential backoff, switching back to direct mode once the
 * spool is empty.
 *
 * A write resolves once every server has it durably (in it, its spill journal or its spool), so
 * one server down does not stop ingest, and nothing acknowledged is missing from either once it is
 * back. Reads go to one server (targets.ts ReadRouter).
 */
export class InfluxTimeSeriesStore implements TimeSeriesStore {
  readonly backend = 'influx' as const
  readonly database: string
  private readonly reads: ReadRouter
  private closed = false
  private closing: Promise<void> | null = null

  private constructor(
    private readonly targets: readonly InfluxTarget[],
    /** Field types seen on any server: a write is checked once, then refused whole or written to each. */
    private readonly types: FieldTypes,
    opts: InfluxStoreOptions,
  ) {
    this.database = targets[0]!.s.database
    this.reads = new ReadRouter(targets, opts.metrics, opts.logger)
  }

  /** Opens the store; InfluxDB being down is not an error (writes spool until it is back). */
  static async open(opts: InfluxStoreOptions): Promise<InfluxTimeSeriesStore> {
    const layouts = targetLayouts(targetUrls(opts), opts.dataDir)
    const types = new FieldTypes()
    const opened = await Promise.allSettled(layouts.map((l) => InfluxTarget.open(opts, l, types)))
    const targets = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []))
    const failed = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected')
    if (failed) {
      // A server's journals could not be opened: close the others' timers and files, then say why.
      await Promise.all(targets.map((t) => t.close()))
      throw failed.reason
    }
    return new InfluxTimeSeriesStore(targets, types, opts)
  }

  /**
   * Not an async function on purpose (see InfluxWriter.write): the points are checked once and
   * handed to each server's write path in the same turn, so every server receives the writes in
   * the order they were made.
   */
  write(points: readonly Point[]): Promise<void> {
    try {
      if (this.closed) throw new StoreError('closed', 'time-series store is closed')
      const normal = normalizePoints(points, this.types).points
      const started = performance.now()
      const ts = this.targets
      if (ts.length === 1) return ts[0]!.write(normal, started)
      const each = new Array<Promise<void>>(ts.length)
      for (let i = 0; i < ts.length; i++) each[i] = ts[i]!.write(normal, started)
      // Acknowledged only once every server has the points durably.
      return Promise.all(each).then(done)
    } catch (err) {
      return Promise.reject(err as Error)
    }
  }

  readings(q: RawReadingsQuery): Promise<ValuePoint[]> {
    return this.reads.read((t) => t.queries.readings(q))
  }

  aggregate(q: AggregateReadingsQuery): Promise<ValuePoint[]> {
    return this.reads.read((t) => t.queries.aggregate(q))
  }

  latest(filter: LatestFilter): Promise<LatestReadings[]> {
    return this.reads.read((t) => t.queries.latest(filter))
  }

  queryPoints(q: PointQuery): Promise<QueriedPoint[]> {
    return this.reads.read((t) => t.queries.queryPoints(q))
  }

  summarize(q: SummaryQuery): Promise<SummaryRow[]> {
    return this.reads.read((t) => summarizeInflux((text) => t.queries.q(text), q))
  }

  levelDurations(q: LevelDurationsQuery): Promise<LevelDurations[]> {
    return this.reads.read((t) => levelDurationsInflux((text) => t.queries.q(text), q))
  }

  scan(q: ScanQuery): Promise<PointScan> {
    return this.reads.read((t) => t.queries.scan(q))
  }

  // ---- lifecycle ----

  /**
   * One server: its health. Several: ok while every server takes writes durably, degraded while
   * any is down or draining, each one's state in `targets` and the spool summed.
   */
  health(): StoreHealth {
    const ts = this.targets
    if (ts.length === 1) return ts[0]!.health()
    const reader = this.closed ? undefined : this.reads.pick()
    const each = ts.map((t) => ({ t, h: t.health() }))
    const spool = { points: 0, bytes: 0 }
    for (const { h } of each) {
      spool.points += h.spool?.points ?? 0
      spool.bytes += h.spool?.bytes ?? 0
    }
    const targets = each.map(({ t, h }) => ({
      name: t.name,
      ok: h.ok,
      state: t.s.closed
        ? ('closed' as const)
        : !t.s.reachable
          ? ('down' as const)
          : t.s.mode === 'spool'
            ? ('draining' as const)
            : ('up' as const),
      reads: t === reader,
      detail: h.detail,
      spool: h.spool ?? { points: 0, bytes: 0 },
    }))
    return {
      ok: !this.closed && each.every(({ h }) => h.ok),
      degraded: each.some(({ h }) => h.degraded),
      detail: this.closed ? 'closed' : targets.map((t) => `${t.name}: ${t.detail}${t.reads ? ' (reads)' : ''}`).join('; '),
      spool,
      targets,
    }
  }

  close(): Promise<void> {
    // Writes made while the servers' last batches go out still count, as with one server.
    this.closing ??= Promise.all(this.targets.map((t) => t.close())).then(() => {
      this.closed = true
    })
    return this.closing
  }
}

function done(): void {}
