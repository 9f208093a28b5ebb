// The write path of the InfluxDB store: points batched in memory and sent as requests (several
// in flight, see maxInflight), a request InfluxDB is slow to answer journaled in the spill journal
// and acknowledged from there (spillAfterMs), and everything after a failed request sent to the
// disk spool in the order it was written, for the drainer (drainer.ts) to deliver.
import { StoreError } from '../types.ts'
import type { NormalPoint } from '../points.ts'
import { encodeLines, LineBuffer, linesBody, type EncodedLines } from './line.ts'
import type { RollupBackfill } from './rollup-backfill.ts'
import { SeriesRanges } from './series-ranges.ts'
import { markUnreachable, refusedPoints, sendLines, type WriteError } from './send.ts'
import { MAX_SPILL_BYTES, MAX_SPILLED, type Flight, type InfluxState, type Waiter } from './state.ts'

export class InfluxWriter {
  private batch = new LineBuffer()
  private batchWaiters: Waiter[] = []
  private batchSeries = new SeriesRanges()
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null
  /** The batch that was filling when a request failed: spooled once every request is answered. */
  private held: { points: number; body: Buffer; waiters: Waiter[] } | null = null
  /** Writes made in spool mode while requests were still in flight. */
  private spoolBacklog: Array<{ payload: Buffer; points: number; resolve: () => void; reject: (err: Error) => void }> = []
  private idleWaiters: Array<() => void> = []
  /** Writers waiting for room in the in-memory batch (backpressure, no unbounded array of points). */
  private roomWaiters: Array<() => void> = []

  constructor(
    private readonly s: InfluxState,
    private readonly late: RollupBackfill,
    /** A request failed: the drainer takes over (drainer.ts). */
    private readonly enterSpoolMode: () => void,
  ) {}

  /** Points waiting in the batch that is filling. */
  get batchLines(): number {
    return this.batch.lines
  }

  /**
   * Points already checked (store.ts normalizes a write once for every target), resolved once
   * they are durable for this server: in InfluxDB, its spill journal or its spool.
   * Not an async function on purpose: the points are needed only until they are lines, and an
   * async function's frame would keep them alive until the write is durable; under load that is
   * thousands of readings, copied by every young-generation GC.
   */
  write(normal: readonly NormalPoint[], started: number): Promise<void> {
    try {
      if (this.s.closed) throw new StoreError('closed', 'time-series store is closed')
      const n = normal.length
      if (n === 0) return Promise.resolve()
      // The usual case: straight into the batch, answered by the batch's own promise.
      if (this.s.mode === 'direct' && this.batch.lines + n <= this.s.batchPoints) return this.addPoints(normal, started)
      const lines = encodeLines(normal)
      return n <= this.s.batchPoints ? this.writeLater(lines, 0, n, started) : this.writeParts(lines, started)
    } catch (err) {
      return Promise.reject(err as Error)
    }
  }

  /** A write larger than a batch (a long replay) goes in batch-sized parts, one after the other,
   * so no request or spool record ever exceeds a batch (InfluxDB caps request bodies). */
  private async writeParts(lines: EncodedLines, started: number): Promise<void> {
    const n = lines.ts.length
    for (let i = 0; i < n; i += this.s.batchPoints) await this.writeLater(lines, i, Math.min(n, i + this.s.batchPoints), started)
  }

  /** Lines `from`..`to` (at most a batch) once the batch has room for them, or into the spool. */
  private async writeLater(lines: EncodedLines, from: number, to: number, started: number): Promise<void> {
    const n = to - from
    // Wait for room (bounded memory).
    while (this.s.mode === 'direct' && this.batch.lines > 0 && this.batch.lines + n > this.s.batchPoints) {
      await new Promise<void>((r) => this.roomWaiters.push(r))
      if (this.s.closed) throw new StoreError('closed', 'time-series store is closed')
    }
    if (this.s.mode === 'direct') return this.addLines(lines, from, to, started)
    await this.toSpoolInOrder(linesBody(lines, from, to), n)
    this.s.m.written(n)
    this.s.m.latency((performance.now() - started) / 1000)
  }

  private addPoints(points: readonly NormalPoint[], started: number): Promise<void> {
    for (let i = 0; i < points.length; i++) {
      const p = points[i]!
      this.batchSeries.add(this.batch.push(p), p.ts)
    }
    return this.batched(started)
  }

  private addLines(lines: EncodedLines, from: number, to: number, started: number): Promise<void> {
    this.batch.pushLines(lines, from, to)
    for (let i = from; i < to; i++) this.batchSeries.add(lines.series[i]!, lines.ts[i]!)
    return this.batched(started)
  }

  /** Resolves once the batch just added to is durable. */
  private batched(started: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.batchWaiters.push({ started, resolve, reject })
      if (this.batch.lines >= this.s.batchPoints) this.flush()
      else if (!this.timer && this.hasPlace()) {
        // 0: at the end of this event-loop turn, once every writer woken by the last answer has
        // added its points.
        this.timer = this.s.flushIntervalMs > 0 ? setTimeout(() => this.flush(), this.s.flushIntervalMs) : setImmediate(() => this.flush())
      }
    })
  }

  private async toSpool(payload: Buffer, points: number): Promise<void> {
    if (this.s.spool.bytes > this.s.maxSpoolBytes) {
      this.s.m.failure('spool_full')
      throw new StoreError('unavailable', `InfluxDB unreachable and the disk spool is full (${this.s.spool.bytes} bytes); retry later`)
    }
    try {
      await this.s.spool.append(payload, points)
    } finally {
      this.s.reportSpool()
    }
  }

  /**
   * While requests sent before the switch to spool mode are unanswered, later writes wait here,
   * so that the spool receives everything in the order it was written (a request that fails
   * goes there before them).
   */
  private toSpoolInOrder(payload: Buffer, points: number): Promise<void> {
    if (this.s.flights.length === 0) return this.toSpool(payload, points)
    return new Promise((resolve, reject) => this.spoolBacklog.push({ payload, points, resolve, reject }))
  }

  /**
   * Room for another request: fewer than `maxInflight` unanswered ones that are not spilled, and
   * fewer than `maxInflight + MAX_SPILLED` in the list (answered ones wait there for those before
   * them). With `maxInflight: 1` a spilled request keeps its place: writes arrive in the order made.
   */
  private hasPlace(): boolean {
    if (this.s.flights.length >= this.s.maxInflight + MAX_SPILLED) return false
    let taken = 0
    for (const f of this.s.flights) if (f.state === 'flying' && (!f.spilled || this.s.maxInflight === 1)) taken++
    return taken < this.s.maxInflight
  }

  flush(): void {
    this.clearTimer()
    if (!this.hasPlace() || this.batch.lines === 0 || this.s.mode !== 'direct') return
    // A batch sharing a series and time range with a request in flight waits for its answer:
    // InfluxDB applies concurrent requests in no set order, and of two points with the same series
    // and time the later write must win.
    for (const f of this.s.flights) if (f.series.overlaps(this.batchSeries)) return
    const flight: Flight = {
      points: this.batch.lines,
      body: this.batch.take(),
      waiters: this.batchWaiters,
      series: this.batchSeries,
      state: 'flying',
      acked: false,
      spilled: false,
      spillHeld: false,
      spillTimer: undefined,
      readers: undefined,
    }
    this.batchWaiters = []
    this.batchSeries = new SeriesRanges()
    this.s.flights.push(flight)
    this.wakeRoomWaiters()
    if (this.s.spillAfterMs > 0) flight.spillTimer = setTimeout(() => this.spill(flight), this.s.spillAfterMs)
    void sendLines(this.s, flight.body).then(
      () => {
        this.answered(flight, 'done')
        this.s.m.delivered(flight.points)
        this.landedLate(flight.series)
        this.ack(flight, 'written')
        this.landed()
      },
      (err: WriteError) => {
        if (!err.retryable) {
          // InfluxDB wrote what it could and refused the rest (e.g. a field type conflict); the
          // same bytes would be refused again, so they are counted and logged, not retried.
          this.answered(flight, 'done')
          refusedPoints(this.s, flight.points, err)
          this.landedLate(flight.series)
          this.ack(flight, 'refused')
          this.landed()
          return
        }
        markUnreachable(this.s, err)
        this.answered(flight, 'failed')
        if (this.s.mode === 'direct') {
          // Everything not yet sent goes to the spool, after this request and any other in flight
          // that fails too: the batch that was filling is held until those are answered.
          this.s.mode = 'spool'
          if (this.batch.lines > 0) this.held = { points: this.batch.lines, body: this.batch.take(), waiters: this.batchWaiters }
          this.batchWaiters = []
          this.batchSeries = new SeriesRanges()
          this.enterSpoolMode()
          this.wakeRoomWaiters()
        }
        this.landed()
      },
    )
  }

  /**
   * InfluxDB was slow to answer `f`: its bytes go to the spill journal, and once they are on disk
   * its writers are acknowledged (and, with `maxInflight` above 1, its place goes to the next
   * batch). The record stays until no spilled request's points depend on it; a crash before then
   * replays it at the next start (the same points land on themselves).
   */
  private spill(f: Flight): void {
    f.spillTimer = undefined
    if (f.state !== 'flying' || this.s.mode !== 'direct' || this.s.closed || this.s.spills.bytes > MAX_SPILL_BYTES) return
    f.spilled = true
    f.spillHeld = true
    this.s.spillsPending++
    this.s.m.spilled()
    this.s.spills.append(f.body, f.points).then(
      () => {
        this.ack(f, 'written')
        this.s.reportSpool()
      },
      (err: Error) => {
        // Not on disk: the writers wait for InfluxDB's answer (or the spool), as without spilling.
        this.s.opts.logger.error({ err: err.message }, 'could not write a slow InfluxDB request to the spill journal')
        this.s.m.failure('spill')
        f.spilled = false
        this.release(f)
      },
    )
    if (this.batch.lines > 0) this.flush()
  }

  /** InfluxDB answered `f`. */
  private answered(f: Flight, state: 'done' | 'failed'): void {
    f.state = state
    clearTimeout(f.spillTimer)
    if (f.readers) for (const r of f.readers.splice(0)) r()
    // A failed one's points depend on its journal record until the spool holds them (spoolFlight).
    if (state === 'done') this.release(f)
  }

  /**
   * `f`'s points are in InfluxDB or the spool: its journal record is no longer needed, and once
   * no spilled request depends on the journal, it is emptied (not while a start replays it).
   */
  private release(f: { spillHeld?: boolean }): void {
    if (!f.spillHeld) return
    f.spillHeld = false
    this.s.spillsPending--
    if (this.s.spillsPending > 0 || this.s.replaySpills || this.s.spills.empty) return
    this.s.spills.clear()
    this.s.reportSpool()
  }

  /**
   * Answers the writers of `f`, once, whichever of InfluxDB, the spill journal and the spool holds
   * its points first; counted as written then, unless InfluxDB refused them (counted as rejected).
   */
  private ack(f: { points: number; waiters: Waiter[]; acked?: boolean }, outcome: 'written' | 'refused'): void {
    if (f.acked) return
    f.acked = true
    if (outcome === 'written') this.s.m.written(f.points)
    const ws = f.waiters
    f.waiters = []
    this.settle(ws)
  }

  /**
   * A request was answered. Requests leave the flight list in the order they were sent; a failed
   * one goes to the spool as it leaves, and once none is left the held batch and the writes that
   * waited follow, in order.
   */
  private landed(): void {
    while (this.s.flights.length > 0 && this.s.flights[0]!.state !== 'flying') {
      const f = this.s.flights.shift()!
      if (f.state === 'failed') this.spoolFlight(f)
    }
    if (this.s.flights.length === 0) {
      if (this.held) {
        this.spoolFlight(this.held)
        this.held = null
      }
      const backlog = this.spoolBacklog
      this.spoolBacklog = []
      for (const b of backlog) this.toSpool(b.payload, b.points).then(b.resolve, b.reject)
      const ws = this.idleWaiters
      this.idleWaiters = []
      for (const w of ws) w()
    }
    if (this.batch.lines > 0) this.flush()
    this.wakeRoomWaiters()
  }

  /**
   * Points InfluxDB accepted after their rollup buckets were computed are noted for recomputing,
   * before they are acknowledged (most batches hold none: `note` returns after one comparison).
   */
  landedLate(series: SeriesRanges): void {
    try {
      this.late.note(series)
    } catch (err) {
      // The points are stored; only their rollups may miss them. Said loudly, not thrown.
      this.s.m.failure('late_rollup_journal')
      this.s.opts.logger.error({ err: (err as Error).message }, 'could not note late points for their rollups')
    }
  }

  private spoolFlight(f: { points: number; body: Buffer; waiters: Waiter[]; acked?: boolean; spillHeld?: boolean }): void {
    this.toSpool(f.body, f.points).then(
      () => {
        this.ack(f, 'written')
        this.release(f)
      },
      (e: Error) => {
        const ws = f.waiters
        f.waiters = []
        for (const w of ws) w.reject(e instanceof StoreError ? e : new StoreError('unavailable', `spool write failed: ${e.message}`))
      },
    )
  }

  /** Resolves once no request is in flight (every failed one is in the spool by then). */
  flightsLanded(): Promise<void> {
    if (this.s.flights.length === 0) return Promise.resolve()
    return new Promise((r) => this.idleWaiters.push(r))
  }

  clearTimer(): void {
    if (this.timer === null) return
    if (this.s.flushIntervalMs > 0) clearTimeout(this.timer as NodeJS.Timeout)
    else clearImmediate(this.timer as NodeJS.Immediate)
    this.timer = null
  }

  private settle(waiters: Waiter[]): void {
    const now = performance.now()
    for (const w of waiters) {
      this.s.m.latency((now - w.started) / 1000)
      w.resolve()
    }
  }

  wakeRoomWaiters(): void {
    const ws = this.roomWaiters
    this.roomWaiters = []
    for (const w of ws) w()
  }

  /** One POST /write; throws a WriteError saying whether it is worth retrying. */
}
