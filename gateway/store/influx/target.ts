// One InfluxDB server the store writes to, with everything of its own: the write path with its
// spill journal (writer.ts), the spool and its drainer with its backoff (drainer.ts), the queries
// (queries.ts), the late-rollup journal (rollup-backfill.ts) and the ping that tells whether it is
// reachable. The store (store.ts) holds one per configured URL (targets.ts).
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { NormalPoint, FieldTypes } from '../points.ts'
import type { StoreHealth } from '../types.ts'
import { SpoolDrainer } from './drainer.ts'
import { InfluxQueries } from './queries.ts'
import { RollupBackfill } from './rollup-backfill.ts'
import { InfluxState, type InfluxStoreOptions, type TargetLayout } from './state.ts'
import { InfluxWriter } from './writer.ts'

export class InfluxTarget {
  readonly s: InfluxState
  readonly writer: InfluxWriter
  readonly drainer: SpoolDrainer
  readonly queries: InfluxQueries
  private readonly late: RollupBackfill
  private pingTimer: NodeJS.Timeout | null = null

  private constructor(opts: InfluxStoreOptions, layout: TargetLayout, types: FieldTypes) {
    const s = new InfluxState(opts, layout, types)
    this.s = s
    this.queries = new InfluxQueries(s)
    mkdirSync(dirname(layout.lateFile), { recursive: true })
    this.late = new RollupBackfill({
      file: layout.lateFile,
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

  /** Opens one server's write path; the server being down is not an error (writes spool until it is back). */
  static async open(opts: InfluxStoreOptions, layout: TargetLayout, types: FieldTypes): Promise<InfluxTarget> {
    const t = new InfluxTarget(opts, layout, types)
    const s = t.s
    // The write thread up before the first write: writes made while it starts would go out
    // together (spilled meanwhile) and reach InfluxDB in any order.
    const threadUp = s.poster.start()
    try {
      await t.drainer.setup()
    } catch (err) {
      s.reachable = false
      s.lastError = (err as Error).message
      opts.logger.warn(
        { err: (err as Error).message, db: s.database, ...(layout.labelled ? { target: s.name } : {}) },
        'InfluxDB not ready at start; points go to the disk spool until it is',
      )
    }
    if (!s.setupDone || !s.spool.empty || s.replaySpills) t.drainer.enterSpoolMode()
    s.reportSpool()
    t.pingTimer = setInterval(() => void t.drainer.checkReachable(), opts.pingIntervalMs ?? 5000)
    t.pingTimer.unref()
    t.late.start()
    await threadUp
    return t
  }

  get name(): string {
    return this.s.name
  }

  /** Resolves once the points are durable for this server (in it, or in its own journals). */
  write(normal: readonly NormalPoint[], started: number): Promise<void> {
    return this.writer.write(normal, started)
  }

  /** A read failed to reach it: reads go elsewhere until a ping or a write finds it again. */
  unreachable(err: Error): void {
    this.s.reachable = false
    this.s.lastError = err.message
  }

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
