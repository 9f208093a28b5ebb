import { join } from 'node:path'
import { InfluxDB } from 'influx'
import type { Logger } from '../../log/logger.ts'
import type { Metrics } from '../../metrics/registry.ts'
import { storeMetrics, type StoreMetrics } from '../metrics.ts'
import { FieldTypes, normalizePoints, sortPoints, type FieldType, type NormalPoint } from '../points.ts'
import {
  MAX_QUERY_POINTS,
  MAX_READINGS_POINTS,
  MEASUREMENT_TAGS,
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
} from '../types.ts'
import { encodeLines, forEachLine, ident, LineBuffer, linesBody, lit, type EncodedLines } from './line.ts'
import { RollupBackfill } from './rollup-backfill.ts'
import { SeriesRanges } from './series-ranges.ts'
import { setupInflux } from './setup.ts'
import { Spool, type SpoolRecord } from './spool.ts'
import { PostError, WritePoster } from './write-request.ts'

export interface InfluxStoreOptions {
  /** http://[user:pass@]host:8086/<database> */
  url: string
  dataDir: string
  logger: Logger
  metrics: Metrics
  /** A batch is sent when it holds this many points... */
  batchPoints?: number
  /**
   * ...or, when fewer than `maxInflight` write requests are in flight, this long after its first
   * point (a short wait lets concurrent writers share a request). Once `maxInflight` requests are
   * in flight, points gather and leave the moment one returns, so batches grow with the load and
   * callers waiting for their acknowledgement do not cap the rate at (writers × points) per interval.
   */
  flushIntervalMs?: number
  /**
   * Write requests in flight at once (default 2), so the gateway fills the next batch while
   * InfluxDB works on the last. A batch goes out alongside others only when it shares no series
   * and time range with them: InfluxDB applies concurrent requests in no set order, and of two
   * points with the same series and time the later write must win.
   */
  maxInflight?: number
  /**
   * A request InfluxDB has not answered within this long (default 50 ms; 0: never) is written to
   * a disk journal (`influx-spill/`) and its writers are acknowledged from there: durable in the
   * gateway's own disk buffer, which is what an acknowledgement needs. InfluxDB's pauses (cache
   * snapshots, compactions, continuous queries) then do not hold acknowledgements back, and with
   * `maxInflight` above 1 the request's place goes to the next batch (at most MAX_SPILLED such
   * requests at once). The request goes on; once every spilled request's points are in InfluxDB
   * or the spool, the journal is emptied. Only a start after a crash reads it.
   */
  spillAfterMs?: number
  /** One HTTP write's timeout. */
  requestTimeoutMs?: number
  /** Retry backoff while InfluxDB is unreachable: from `backoffMinMs` doubling up to `backoffMaxMs`. */
  backoffMinMs?: number
  backoffMaxMs?: number
  /** Past this many bytes in the spool, write() refuses (the caller keeps the data, nothing is lost). */
  maxSpoolBytes?: number
  /** How often reachability is checked when no write tells. */
  pingIntervalMs?: number
  /** How often rollups are recomputed for points that arrived after their buckets were (rollup-backfill.ts). */
  rollupRecomputeMs?: number
}

interface Waiter {
  started: number
  resolve: () => void
  reject: (err: Error) => void
}

interface Flight {
  points: number
  body: Buffer
  waiters: Waiter[]
  series: SeriesRanges
  state: 'flying' | 'done' | 'failed'
  /** Its writers were answered (counted once, whichever of InfluxDB, the spill journal and the spool came first). */
  acked: boolean
  /** Written (or being written) to the spill journal because InfluxDB was slow to answer (see spillAfterMs). */
  spilled: boolean
  /** Counted in `spillsPending`: its journal record is the only copy known to be durable. */
  spillHeld: boolean
  spillTimer: NodeJS.Timeout | undefined
  /** Reads waiting for InfluxDB to answer this spilled request (readYourWrites). */
  readers: Array<() => void> | undefined
}

/** Spilled requests InfluxDB may still be working on, beside the `maxInflight` others. */
const MAX_SPILLED = 4
/** Past this the journal takes no more (writers wait for InfluxDB) until it is emptied. */
const MAX_SPILL_BYTES = 64 * 1024 * 1024

interface Row {
  series?: Array<{ name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }>
  error?: string
}

class WriteError extends Error {
  constructor(
    message: string,
    /** false: InfluxDB refused the points themselves (400); sending them again cannot help. */
    readonly retryable: boolean,
    readonly reason: string,
  ) {
    super(message)
  }
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })

/**
 * InfluxDB 1.x store. Direct mode: points are batched in memory (bounded by `batchPoints`; further
 * writers wait) and a write resolves once InfluxDB accepted its batch. When a batch cannot be
 * delivered, the store switches to spool mode: that batch and every later write go to the disk
 * spool (fsync'd before the write resolves), and a drainer sends the spool to InfluxDB oldest
 * first, with exponential backoff, switching back to direct mode once the spool is empty.
 */
export class InfluxTimeSeriesStore implements TimeSeriesStore {
  readonly backend = 'influx' as const
  readonly database: string
  private readonly influx: InfluxDB
  private readonly poster: WritePoster
  private readonly m: StoreMetrics
  private readonly spool: Spool
  private readonly batchPoints: number
  private readonly flushIntervalMs: number
  private readonly backoffMin: number
  private readonly backoffMax: number
  private readonly maxSpoolBytes: number
  private readonly maxInflight: number
  private readonly spillAfterMs: number
  /** Journal of spilled requests (see spillAfterMs). */
  private readonly spills: Spool
  /** Spilled requests whose points are not yet known to be in InfluxDB or the spool. */
  private spillsPending = 0
  /** The journal held records at start (a crash): they are drained first, before the spool. */
  private replaySpills: boolean

  private mode: 'direct' | 'spool' = 'direct'
  private batch = new LineBuffer()
  private batchWaiters: Waiter[] = []
  private batchSeries = new SeriesRanges()
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null
  /** Requests sent and not yet out of the list, in the order they were sent. */
  private flights: Flight[] = []
  /** The batch that was filling when a request failed: spooled once every request is answered. */
  private held: { points: number; body: Buffer; waiters: Waiter[] } | null = null
  /** Writes made in spool mode while requests were still in flight. */
  private spoolBacklog: Array<{ payload: Buffer; points: number; resolve: () => void; reject: (err: Error) => void }> = []
  private idleWaiters: Array<() => void> = []
  /** Writers waiting for room in the in-memory batch (backpressure, no unbounded array of points). */
  private roomWaiters: Array<() => void> = []
  private draining: Promise<void> | null = null
  private setupDone = false
  private reachable = true
  private lastError = ''
  private closed = false
  private readonly stop = new AbortController()
  private pingTimer: NodeJS.Timeout | null = null
  private readonly types = new FieldTypes()
  private readonly late: RollupBackfill

  private constructor(private readonly opts: InfluxStoreOptions) {
    const u = new URL(opts.url)
    const db = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, ''))
    if (!db) throw new StoreError('invalid', `influx URL ${u.origin} names no database: use http://host:8086/<database>`)
    this.database = db
    this.influx = new InfluxDB({
      host: u.hostname,
      port: Number(u.port || (u.protocol === 'https:' ? 443 : 8086)),
      protocol: u.protocol === 'https:' ? 'https' : 'http',
      database: db,
      username: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      // The package's pool disables a host for a growing while after a failure; keep that short so
      // queries work again as soon as InfluxDB is back.
      pool: { maxRetries: 0, requestTimeout: opts.requestTimeoutMs ?? 10_000, backoff: constantBackoff(250) },
    })
    // Writes go straight to /write with the spool's own line-protocol bytes, so a spooled batch is
    // sent exactly as it was stored, without being parsed back into points.
    const params = new URLSearchParams({ db, rp: 'raw', precision: 'ms' })
    const authorization = u.username ? `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}` : undefined
    this.maxInflight = opts.maxInflight ?? 2
    this.spillAfterMs = opts.spillAfterMs ?? 50
    // One connection per write in flight (spilled ones included), and one for the drainer.
    this.poster = new WritePoster(new URL(`${u.protocol}//${u.host}/write?${params}`), authorization, opts.requestTimeoutMs ?? 10_000, this.maxInflight + MAX_SPILLED + 1)
    this.m = storeMetrics(opts.metrics, 'influx')
    this.spool = new Spool(join(opts.dataDir, 'influx-spool'))
    this.spills = new Spool(join(opts.dataDir, 'influx-spill'))
    this.replaySpills = !this.spills.empty
    this.batchPoints = opts.batchPoints ?? 5000
    this.flushIntervalMs = opts.flushIntervalMs ?? 0
    this.backoffMin = opts.backoffMinMs ?? 100
    this.backoffMax = opts.backoffMaxMs ?? 5000
    this.maxSpoolBytes = opts.maxSpoolBytes ?? 2 * 1024 ** 3
    this.late = new RollupBackfill({
      file: join(opts.dataDir, 'influx-late-rollups.jsonl'),
      database: db,
      run: (query) => this.q(query, 'POST').then(() => undefined),
      logger: opts.logger,
      ready: () => this.mode === 'direct' && this.setupDone && this.reachable && !this.closed,
      ...(opts.rollupRecomputeMs !== undefined ? { intervalMs: opts.rollupRecomputeMs } : {}),
      onQuery: (ok) => this.m.recompute(ok),
      onPending: (n) => this.m.recomputePending(n),
    })
  }

  /** Opens the store; InfluxDB being down is not an error (writes spool until it is back). */
  static async open(opts: InfluxStoreOptions): Promise<InfluxTimeSeriesStore> {
    const s = new InfluxTimeSeriesStore(opts)
    try {
      await s.setup()
    } catch (err) {
      s.reachable = false
      s.lastError = (err as Error).message
      opts.logger.warn({ err: (err as Error).message, db: s.database }, 'InfluxDB not ready at start; points go to the disk spool until it is')
    }
    if (!s.setupDone || !s.spool.empty || s.replaySpills) s.enterSpoolMode()
    s.reportSpool()
    s.pingTimer = setInterval(() => void s.checkReachable(), opts.pingIntervalMs ?? 5000)
    s.pingTimer.unref()
    s.late.start()
    return s
  }

  // ---- writing ----

  /**
   * Not an async function on purpose: the points are needed only until they are lines, and an
   * async function's frame would keep them alive until the write is durable; under load that is
   * thousands of readings, copied by every young-generation GC.
   */
  write(points: readonly Point[]): Promise<void> {
    try {
      if (this.closed) throw new StoreError('closed', 'time-series store is closed')
      const normal = normalizePoints(points, this.types).points
      const n = normal.length
      if (n === 0) return Promise.resolve()
      const started = performance.now()
      // The usual case: straight into the batch, answered by the batch's own promise.
      if (this.mode === 'direct' && this.batch.lines + n <= this.batchPoints) return this.addPoints(normal, started)
      const lines = encodeLines(normal)
      return n <= this.batchPoints ? this.writeLater(lines, 0, n, started) : this.writeParts(lines, started)
    } catch (err) {
      return Promise.reject(err as Error)
    }
  }

  /** A write larger than a batch (a long replay) goes in batch-sized parts, one after the other,
   * so no request or spool record ever exceeds a batch (InfluxDB caps request bodies). */
  private async writeParts(lines: EncodedLines, started: number): Promise<void> {
    const n = lines.ts.length
    for (let i = 0; i < n; i += this.batchPoints) await this.writeLater(lines, i, Math.min(n, i + this.batchPoints), started)
  }

  /** Lines `from`..`to` (at most a batch) once the batch has room for them, or into the spool. */
  private async writeLater(lines: EncodedLines, from: number, to: number, started: number): Promise<void> {
    const n = to - from
    // Wait for room (bounded memory).
    while (this.mode === 'direct' && this.batch.lines > 0 && this.batch.lines + n > this.batchPoints) {
      await new Promise<void>((r) => this.roomWaiters.push(r))
      if (this.closed) throw new StoreError('closed', 'time-series store is closed')
    }
    if (this.mode === 'direct') return this.addLines(lines, from, to, started)
    await this.toSpoolInOrder(linesBody(lines, from, to), n)
    this.m.written(n)
    this.m.latency((performance.now() - started) / 1000)
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
      if (this.batch.lines >= this.batchPoints) this.flush()
      else if (!this.timer && this.hasPlace()) {
        // 0: at the end of this event-loop turn, once every writer woken by the last answer has
        // added its points.
        this.timer = this.flushIntervalMs > 0 ? setTimeout(() => this.flush(), this.flushIntervalMs) : setImmediate(() => this.flush())
      }
    })
  }

  private async toSpool(payload: Buffer, points: number): Promise<void> {
    if (this.spool.bytes > this.maxSpoolBytes) {
      this.m.failure('spool_full')
      throw new StoreError('unavailable', `InfluxDB unreachable and the disk spool is full (${this.spool.bytes} bytes); retry later`)
    }
    try {
      await this.spool.append(payload, points)
    } finally {
      this.reportSpool()
    }
  }

  /**
   * While requests sent before the switch to spool mode are unanswered, later writes wait here,
   * so that the spool receives everything in the order it was written (a request that fails
   * goes there before them).
   */
  private toSpoolInOrder(payload: Buffer, points: number): Promise<void> {
    if (this.flights.length === 0) return this.toSpool(payload, points)
    return new Promise((resolve, reject) => this.spoolBacklog.push({ payload, points, resolve, reject }))
  }

  /**
   * Room for another request: fewer than `maxInflight` unanswered ones that are not spilled, and
   * fewer than `maxInflight + MAX_SPILLED` in the list (answered ones wait there for those before
   * them). With `maxInflight: 1` a spilled request keeps its place: writes arrive in the order made.
   */
  private hasPlace(): boolean {
    if (this.flights.length >= this.maxInflight + MAX_SPILLED) return false
    let taken = 0
    for (const f of this.flights) if (f.state === 'flying' && (!f.spilled || this.maxInflight === 1)) taken++
    return taken < this.maxInflight
  }

  private flush(): void {
    this.clearTimer()
    if (!this.hasPlace() || this.batch.lines === 0 || this.mode !== 'direct') return
    // A batch sharing a series and time range with a request in flight waits for its answer:
    // InfluxDB applies concurrent requests in no set order, and of two points with the same series
    // and time the later write must win.
    for (const f of this.flights) if (f.series.overlaps(this.batchSeries)) return
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
    this.flights.push(flight)
    this.wakeRoomWaiters()
    if (this.spillAfterMs > 0) flight.spillTimer = setTimeout(() => this.spill(flight), this.spillAfterMs)
    void this.send(flight.body).then(
      () => {
        this.answered(flight, 'done')
        this.m.delivered(flight.points)
        this.landedLate(flight.series)
        this.ack(flight, 'written')
        this.landed()
      },
      (err: WriteError) => {
        if (!err.retryable) {
          // InfluxDB wrote what it could and refused the rest (e.g. a field type conflict); the
          // same bytes would be refused again, so they are counted and logged, not retried.
          this.answered(flight, 'done')
          this.rejected(flight.points, err)
          this.landedLate(flight.series)
          this.ack(flight, 'refused')
          this.landed()
          return
        }
        this.unreachable(err)
        this.answered(flight, 'failed')
        if (this.mode === 'direct') {
          // Everything not yet sent goes to the spool, after this request and any other in flight
          // that fails too: the batch that was filling is held until those are answered.
          this.mode = 'spool'
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
    if (f.state !== 'flying' || this.mode !== 'direct' || this.closed || this.spills.bytes > MAX_SPILL_BYTES) return
    f.spilled = true
    f.spillHeld = true
    this.spillsPending++
    this.m.spilled()
    this.spills.append(f.body, f.points).then(
      () => {
        this.ack(f, 'written')
        this.reportSpool()
      },
      (err: Error) => {
        // Not on disk: the writers wait for InfluxDB's answer (or the spool), as without spilling.
        this.opts.logger.error({ err: err.message }, 'could not write a slow InfluxDB request to the spill journal')
        this.m.failure('spill')
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
    this.spillsPending--
    if (this.spillsPending > 0 || this.replaySpills || this.spills.empty) return
    this.spills.clear()
    this.reportSpool()
  }

  /**
   * Answers the writers of `f`, once, whichever of InfluxDB, the spill journal and the spool holds
   * its points first; counted as written then, unless InfluxDB refused them (counted as rejected).
   */
  private ack(f: { points: number; waiters: Waiter[]; acked?: boolean }, outcome: 'written' | 'refused'): void {
    if (f.acked) return
    f.acked = true
    if (outcome === 'written') this.m.written(f.points)
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
    while (this.flights.length > 0 && this.flights[0]!.state !== 'flying') {
      const f = this.flights.shift()!
      if (f.state === 'failed') this.spoolFlight(f)
    }
    if (this.flights.length === 0) {
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
  private landedLate(series: SeriesRanges): void {
    try {
      this.late.note(series)
    } catch (err) {
      // The points are stored; only their rollups may miss them. Said loudly, not thrown.
      this.m.failure('late_rollup_journal')
      this.opts.logger.error({ err: (err as Error).message }, 'could not note late points for their rollups')
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
  private flightsLanded(): Promise<void> {
    if (this.flights.length === 0) return Promise.resolve()
    return new Promise((r) => this.idleWaiters.push(r))
  }

  private clearTimer(): void {
    if (this.timer === null) return
    if (this.flushIntervalMs > 0) clearTimeout(this.timer as NodeJS.Timeout)
    else clearImmediate(this.timer as NodeJS.Immediate)
    this.timer = null
  }

  private settle(waiters: Waiter[]): void {
    const now = performance.now()
    for (const w of waiters) {
      this.m.latency((now - w.started) / 1000)
      w.resolve()
    }
  }

  private wakeRoomWaiters(): void {
    const ws = this.roomWaiters
    this.roomWaiters = []
    for (const w of ws) w()
  }

  /** One POST /write; throws a WriteError saying whether it is worth retrying. */
  private async send(body: Buffer): Promise<void> {
    let res: { status: number; text: string }
    try {
      res = await this.poster.post(body)
    } catch (err) {
      const e = err as PostError
      throw new WriteError(`InfluxDB write failed: ${e.message}`, true, e.kind)
    }
    if (res.status === 204) {
      this.reachable = true
      return
    }
    const text = res.text
    if (res.status === 400) throw new WriteError(`InfluxDB refused points: ${text}`, false, 'rejected')
    if (res.status === 404 && /database not found/.test(text)) {
      this.setupDone = false // recreated by the drainer (InfluxDB came back empty)
      throw new WriteError(`InfluxDB: ${text}`, true, 'no_database')
    }
    throw new WriteError(`InfluxDB write answered ${res.status}: ${text}`, true, `http_${res.status}`)
  }

  private rejected(n: number, err: Error): void {
    this.m.rejected(n)
    this.m.failure('rejected')
    this.opts.logger.error({ err: err.message, points: n }, 'InfluxDB refused points; they are not retried')
  }

  private unreachable(err: WriteError): void {
    if (this.reachable) this.opts.logger.warn({ err: err.message }, 'InfluxDB unreachable; points go to the disk spool')
    this.reachable = false
    this.lastError = err.message
    this.m.failure(err.reason)
  }

  // ---- spool mode and draining ----

  private enterSpoolMode(): void {
    this.mode = 'spool'
    this.m.degraded(true)
    this.clearTimer()
    if (!this.draining && !this.closed) {
      const p: Promise<void> = this.drain().finally(() => {
        if (this.draining === p) this.draining = null
      })
      this.draining = p
    }
  }

  private async drain(): Promise<void> {
    // Requests sent before the switch are answered first and the failed ones spooled, then appends
    // made in the same turn reach the spool's queue, so an empty spool seen below really means
    // nothing is waiting.
    await this.flightsLanded()
    await new Promise((r) => setImmediate(r))
    let attempt = 0
    const backoff = async () => {
      const ms = Math.min(this.backoffMax, this.backoffMin * 2 ** attempt) * (0.75 + Math.random() * 0.5)
      attempt++
      await sleep(ms, this.stop.signal)
    }
    while (!this.closed) {
      if (!this.setupDone) {
        try {
          await this.setup()
        } catch (err) {
          this.reachable = false
          this.lastError = (err as Error).message
          await backoff()
          continue
        }
      }
      // After a crash, the requests spilled before it go first: they were sent before anything the
      // spool holds was written.
      const source = this.replaySpills ? this.spills : this.spool
      const seg = source.oldest()
      if (seg === null && source === this.spills) {
        this.replaySpills = false
        continue
      }
      if (seg === null) {
        // Nothing spooled and no append pending: later writes may go straight to InfluxDB again.
        // `draining` is cleared here, in the same turn, so a failure right after starts a new drainer.
        this.draining = null
        this.mode = 'direct'
        this.m.degraded(false)
        this.reportSpool()
        this.opts.logger.info('InfluxDB spool drained; writing directly again')
        this.wakeRoomWaiters()
        return
      }
      let ok = true
      for (const chunk of chunks(seg.records, this.batchPoints)) {
        for (;;) {
          if (this.closed) return
          try {
            await this.send(Buffer.concat(interleaveNewlines(chunk.records)))
            this.m.delivered(chunk.points)
            this.landedLate(seriesOf(chunk.records))
            attempt = 0
            break
          } catch (err) {
            const e = err as WriteError
            if (!e.retryable) {
              this.rejected(chunk.points, e)
              this.landedLate(seriesOf(chunk.records)) // InfluxDB keeps what it did not refuse
              break
            }
            this.unreachable(e)
            if (!this.setupDone) {
              ok = false
              break
            }
            await backoff()
          }
        }
        if (!ok) break
      }
      if (!ok) continue // set the database up again, then resend this segment (idempotent)
      source.remove(seg.seq)
      this.reportSpool()
      if (!this.reachable) this.opts.logger.info('InfluxDB reachable again; draining the spool')
      this.reachable = true
    }
  }

  private async setup(): Promise<void> {
    await setupInflux(this.influx, this.database)
    // Field types already stored, so a conflicting write is refused before it is acknowledged.
    const r = await this.q('SHOW FIELD KEYS')
    for (const s of r.series ?? []) for (const [field, type] of s.values as Array<[string, FieldType]>) this.types.set(s.name, field, type)
    this.setupDone = true
  }

  /** Points and bytes in the gateway's disk buffers for InfluxDB: the spool and the spill journal. */
  private onDisk(): { points: number; bytes: number } {
    return { points: this.spool.points + this.spills.points, bytes: this.spool.bytes + this.spills.bytes }
  }

  private reportSpool(): void {
    const { points, bytes } = this.onDisk()
    this.m.spool(points, bytes)
  }

  private async checkReachable(): Promise<void> {
    try {
      const [host] = await this.influx.ping(2000)
      this.reachable = host?.online === true
    } catch {
      this.reachable = false
    }
  }

  // ---- queries ----

  /**
   * A read waits for the spilled requests in flight when it starts: their writers were
   * acknowledged from the journal, and a reading acknowledged must be there to read. (Points in
   * the spool during an outage are not, as before.)
   */
  private async readYourWrites(): Promise<void> {
    if (this.spillsPending === 0) return
    const waits: Array<Promise<void>> = []
    for (const f of this.flights) if (f.spilled && f.state === 'flying') waits.push(new Promise((r) => (f.readers ??= []).push(r)))
    await Promise.all(waits)
  }

  private async q(query: string, method: 'GET' | 'POST' = 'GET'): Promise<Row> {
    if (method === 'GET') await this.readYourWrites()
    let res: { results: Row[] }
    try {
      res = (await this.influx.queryRaw(query, { precision: 'ms' as never, database: this.database, method })) as { results: Row[] }
    } catch (err) {
      throw new StoreError('unavailable', `InfluxDB query failed: ${(err as Error).message}`)
    }
    const r = res.results[0] ?? {}
    if (r.error) {
      if (/database not found/.test(r.error)) return {}
      throw new StoreError('invalid', `InfluxDB query failed: ${r.error}`)
    }
    return r
  }

  private timeCond(from: number, to: number): string {
    return `time >= ${Math.trunc(from)}ms AND time < ${Math.trunc(to)}ms`
  }

  private tagConds(where: Readonly<Record<string, string | undefined>>): string {
    return Object.entries(where)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([k, v]) => ` AND ${ident(k)} = ${lit(v)}`)
      .join('')
  }

  async readings(q: RawReadingsQuery): Promise<ValuePoint[]> {
    const limit = Math.min(q.limit, MAX_READINGS_POINTS)
    const r = await this.q(
      `SELECT ${ident(q.metric)} FROM ${ident('raw')}.${ident('readings')} WHERE ${this.timeCond(q.from, q.to)}${this.tagConds({ device: q.device })} ORDER BY time ${q.order === 'desc' ? 'DESC' : 'ASC'} LIMIT ${limit}`,
    )
    return (r.series?.[0]?.values ?? []).filter((v) => v[1] !== null).map((v) => ({ ts: v[0] as number, value: v[1] as FieldValue }))
  }

  async aggregate(q: AggregateReadingsQuery): Promise<ValuePoint[]> {
    assertEvery(q.every)
    const limit = Math.min(q.limit ?? MAX_QUERY_POINTS, MAX_READINGS_POINTS)
    const r = await this.q(
      `SELECT ${q.fn}(${ident(q.metric)}) FROM ${ident('raw')}.${ident('readings')} WHERE ${this.timeCond(q.from, q.to)}${this.tagConds({ device: q.device })} GROUP BY time(${q.every}ms) fill(none) LIMIT ${limit}`,
    )
    return (r.series?.[0]?.values ?? []).filter((v) => v[1] !== null).map((v) => ({ ts: v[0] as number, value: v[1] as FieldValue }))
  }

  async latest(filter: LatestFilter): Promise<LatestReadings[]> {
    const conds = this.tagConds({ kind: filter.kind, station: filter.station, device: filter.device }).replace(/^ AND /, '')
    const where = conds ? ` WHERE ${conds}` : ''
    const from = `${ident('raw')}.${ident('readings')}`
    // Each field's own last value, and the newest point (for its time and tags).
    const [lasts, newest] = await Promise.all([
      this.q(`SELECT last(*) FROM ${from}${where} GROUP BY ${ident('device')}`),
      this.q(`SELECT * FROM ${from}${where} GROUP BY ${ident('device')} ORDER BY time DESC LIMIT 1`),
    ])
    const tagKeys = new Set<string>(MEASUREMENT_TAGS.readings)
    const items = new Map<string, LatestReadings>()
    for (const s of newest.series ?? []) {
      const device = s.tags?.device
      const row = s.values[0]
      if (!device || !row) continue
      const tags: Record<string, string> = { device }
      s.columns.forEach((c, i) => {
        if (tagKeys.has(c) && typeof row[i] === 'string' && row[i] !== '') tags[c] = row[i] as string
      })
      items.set(device, { device, tags, ts: row[0] as number, values: {} })
    }
    for (const s of lasts.series ?? []) {
      const item = s.tags?.device ? items.get(s.tags.device) : undefined
      const row = s.values[0]
      if (!item || !row) continue
      s.columns.forEach((c, i) => {
        if (!c.startsWith('last_') || row[i] === null) return
        const name = c.slice(5)
        if (name !== 'seq') item.values[name] = row[i] as FieldValue
      })
    }
    return [...items.values()].sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0))
  }

  async queryPoints(q: PointQuery): Promise<QueriedPoint[]> {
    const limit = Math.min(q.limit ?? MAX_QUERY_POINTS, MAX_QUERY_POINTS)
    const order = q.order === 'desc' ? 'DESC' : 'ASC'
    const from = `${ident('raw')}.${ident(q.measurement)}`
    const where = `WHERE ${this.timeCond(q.from, q.to)}${this.tagConds(q.where ?? {})}`
    const tagKeys = await this.tagKeys(q.measurement)
    if (q.every !== undefined || q.fn !== undefined) {
      if (q.every === undefined || q.fn === undefined) throw new StoreError('invalid', 'aggregation needs both every and fn')
      if (!q.fields || q.fields.length === 0) throw new StoreError('invalid', 'aggregation needs the list of fields')
      assertEvery(q.every)
      const select = q.fields.map((f) => `${q.fn}(${ident(f)}) AS ${ident(f)}`).join(', ')
      const groupBy = [`time(${q.every}ms)`, ...(q.groupBy ?? []).map(ident)].join(', ')
      const r = await this.q(`SELECT ${select} FROM ${from} ${where} GROUP BY ${groupBy} fill(none) ORDER BY time ${order} LIMIT ${limit}`)
      const out: QueriedPoint[] = []
      for (const s of r.series ?? []) {
        const tags = Object.fromEntries(Object.entries(s.tags ?? {}).filter(([, v]) => v !== ''))
        for (const row of s.values) out.push({ ts: row[0] as number, tags: { ...tags }, fields: pickFields(s.columns, row, new Set()) })
      }
      return sortPoints(out.filter((p) => Object.keys(p.fields).length > 0), order).slice(0, limit)
    }
    const select = q.fields ? [...q.fields, ...tagKeys].map(ident).join(', ') : '*'
    const r = await this.q(`SELECT ${select} FROM ${from} ${where} ORDER BY time ${order} LIMIT ${limit}`)
    const s = r.series?.[0]
    if (!s) return []
    const out: QueriedPoint[] = []
    for (const row of s.values) {
      const tags: Record<string, string> = {}
      s.columns.forEach((c, i) => {
        if (tagKeys.has(c) && typeof row[i] === 'string' && row[i] !== '') tags[c] = row[i] as string
      })
      const fields = pickFields(s.columns, row, tagKeys)
      if (Object.keys(fields).length > 0) out.push({ ts: row[0] as number, tags, fields })
    }
    return out
  }

  async scan(q: ScanQuery): Promise<PointScan> {
    if (this.closed) throw new StoreError('closed', 'time-series store is closed')
    const from = `${ident('raw')}.${ident(q.measurement)}`
    const keys = await this.q(`SHOW FIELD KEYS FROM ${from}`)
    const fields = (keys.series?.[0]?.values ?? []).map((v) => String(v[0])).sort()
    const tagKeys = await this.tagKeys(q.measurement)
    let placeCond = ''
    if (q.places) {
      const ors = [...q.places.stations.map((s) => `${ident('station')} = ${lit(s)}`), ...q.places.districts.map((d) => `${ident('district')} = ${lit(d)}`)]
      placeCond = ` AND (${ors.length > 0 ? ors.join(' OR ') : 'false'})`
      if (ors.length === 0) return { fields, pages: (async function* () {})() }
    }
    const conds = `${this.tagConds(q.where ?? {})}${placeCond}`
    const toRows = (r: Row): QueriedPoint[] => {
      const s = r.series?.[0]
      if (!s) return []
      const out: QueriedPoint[] = []
      for (const row of s.values) {
        const tags: Record<string, string> = {}
        s.columns.forEach((c, i) => {
          if (tagKeys.has(c) && typeof row[i] === 'string' && row[i] !== '') tags[c] = row[i] as string
        })
        const f = pickFields(s.columns, row, tagKeys)
        if (Object.keys(f).length > 0) out.push({ ts: row[0] as number, tags, fields: f })
      }
      return out
    }
    const page = SCAN_PAGE
    const self = this
    // Time-windowed pages: each asks for at most `page` points of a window after the cursor; the
    // window adapts to the data's density, since a query over the whole remaining range costs
    // InfluxDB a scan of every shard in it however small its LIMIT. A page that ends inside an
    // instant gives its last instant back, to be read whole by the next page (the same point must
    // not appear twice nor be skipped); an instant larger than a page is read with OFFSET.
    async function* pages(): AsyncGenerator<QueriedPoint[]> {
      let cursor = Math.trunc(q.from)
      const end = Math.trunc(q.to)
      let window = 3_600_000
      while (cursor < end) {
        const upTo = Math.min(end, cursor + window)
        const r = await self.q(`SELECT * FROM ${from} WHERE ${self.timeCond(cursor, upTo)}${conds} ORDER BY time ASC LIMIT ${page}`)
        const rows = r.series?.[0]?.values ?? []
        if (rows.length < page) {
          const pts = toRows(r)
          if (pts.length > 0) yield pts
          cursor = upTo
          if (rows.length < page / 4) window = Math.min(window * 4, 366 * 86_400_000)
          continue
        }
        window = Math.max(1000, Math.floor(window / 2))
        const lastTs = rows[rows.length - 1]![0] as number
        if ((rows[0]![0] as number) === lastTs) {
          for (let offset = 0; ; offset += page) {
            const one = await self.q(`SELECT * FROM ${from} WHERE time = ${lastTs}ms${conds} LIMIT ${page} OFFSET ${offset}`)
            const pts = toRows(one)
            if (pts.length > 0) yield pts
            if ((one.series?.[0]?.values.length ?? 0) < page) break
          }
          cursor = lastTs + 1
          continue
        }
        let cut = rows.length
        while ((rows[cut - 1]![0] as number) === lastTs) cut--
        r.series![0]!.values = rows.slice(0, cut)
        yield toRows(r)
        cursor = lastTs
      }
    }
    return { fields, pages: pages() }
  }

  private async tagKeys(measurement: string): Promise<Set<string>> {
    const known = (MEASUREMENT_TAGS as Record<string, readonly string[]>)[measurement]
    if (known) return new Set(known)
    const r = await this.q(`SHOW TAG KEYS FROM ${ident(measurement)}`)
    return new Set((r.series?.[0]?.values ?? []).map((v) => v[0] as string))
  }

  // ---- lifecycle ----

  health(): StoreHealth {
    const spool = this.onDisk()
    if (this.closed) return { ok: false, degraded: false, detail: 'closed', spool }
    if (this.mode === 'spool' || !this.reachable) {
      return {
        ok: this.spool.bytes <= this.maxSpoolBytes,
        degraded: true,
        detail: `InfluxDB ${this.reachable ? 'reachable, draining the spool' : `unreachable (${this.lastError || 'no answer to ping'})`}; ${spool.points} points spooled on disk`,
        spool,
      }
    }
    return { ok: true, degraded: false, detail: `influx ${this.database} ok`, spool }
  }

  async close(): Promise<void> {
    if (this.closed) return
    if (this.pingTimer) clearInterval(this.pingTimer)
    // Let the last direct batch go out (or reach the spool) before stopping.
    if (this.mode === 'direct') {
      this.flush()
      while (this.flights.length > 0 || (this.mode === 'direct' && this.batch.lines > 0)) {
        await new Promise((r) => setTimeout(r, 10))
        this.flush()
      }
    }
    this.closed = true
    this.stop.abort()
    this.wakeRoomWaiters()
    await this.draining
    await this.late.close()
    // Appends still waiting reach the disk here; the rest stays in the spool for the next start.
    this.spool.close()
    this.spills.close()
    this.poster.close()
  }
}

function constantBackoff(ms: number) {
  const b = { getDelay: () => ms, next: () => b, reset: () => b }
  return b
}

function assertEvery(every: number): void {
  if (!Number.isInteger(every) || every < 1) throw new StoreError('invalid', 'every must be a whole number of ms, at least 1')
}

/** Points per InfluxDB query of an export (one JSON answer held at a time). */
const SCAN_PAGE = 5000

function pickFields(columns: string[], row: unknown[], skip: Set<string>): Record<string, FieldValue> {
  const fields: Record<string, FieldValue> = {}
  columns.forEach((c, i) => {
    if (i === 0 || skip.has(c) || row[i] === null || row[i] === undefined) return
    fields[c] = row[i] as FieldValue
  })
  return fields
}

/** Groups spool records into sends of about `max` points (a bigger record goes alone). */
function* chunks(records: SpoolRecord[], max: number): Generator<{ records: SpoolRecord[]; points: number }> {
  let cur: SpoolRecord[] = []
  let n = 0
  for (const r of records) {
    if (n > 0 && n + r.points > max) {
      yield { records: cur, points: n }
      cur = []
      n = 0
    }
    cur.push(r)
    n += r.points
  }
  if (n > 0) yield { records: cur, points: n }
}

/** The series and times in spooled records, read back from their lines. */
function seriesOf(records: SpoolRecord[]): SeriesRanges {
  const ranges = new SeriesRanges()
  for (const r of records) forEachLine(r.payload, (series, ts) => ranges.add(series, ts))
  return ranges
}

function interleaveNewlines(records: SpoolRecord[]): Buffer[] {
  const nl = Buffer.from('\n')
  const out: Buffer[] = []
  records.forEach((r, i) => {
    if (i > 0) out.push(nl)
    out.push(r.payload)
  })
  return out
}
