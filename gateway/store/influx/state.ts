// The state the InfluxDB store's parts share: the write path (writer.ts), the spool drainer
// (drainer.ts) and the queries (queries.ts) each keep their own fields and read or set only these.
import type { InfluxDB } from 'influx'
import type { Gauge } from 'prom-client'
import type { Logger } from '../../log/logger.ts'
import type { Metrics } from '../../metrics/registry.ts'
import { storeMetrics, type StoreMetrics } from '../metrics.ts'
import type { FieldTypes } from '../points.ts'
import { influxClient } from './client.ts'
import type { SeriesRanges } from './series-ranges.ts'
import { Spool } from './spool.ts'
import { OffThreadPoster } from './off-thread-poster.ts'

export interface InfluxStoreOptions {
  /** http://[user:pass@]host:8086/<database> */
  url?: string | undefined
  /**
   * Several InfluxDB servers instead of `url` (exactly one of the two): every point is written to
   * each, through its own write path and disk journal (targets.ts); reads go to the first one
   * healthy for reads.
   */
  urls?: readonly string[] | undefined
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

export interface Waiter {
  started: number
  resolve: () => void
  reject: (err: Error) => void
}

export interface Flight {
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
export const MAX_SPILLED = 4
/** Past this the journal takes no more (writers wait for InfluxDB) until it is emptied. */
export const MAX_SPILL_BYTES = 64 * 1024 * 1024

/** Where one InfluxDB server's journals live and what it is called (targets.ts). */
export interface TargetLayout {
  /** `host:port/database`, without credentials: the `target` label, /readyz, the log. */
  name: string
  url: string
  spoolDir: string
  spillDir: string
  lateFile: string
  /** Several targets: metrics carry a `target` label (one target: as without, the metrics unchanged). */
  labelled: boolean
}

/** What the writer, the drainer and the queries of one InfluxDB server share. */
export class InfluxState {
  readonly name: string
  readonly url: string
  readonly database: string
  readonly influx: InfluxDB
  readonly poster: OffThreadPoster
  readonly m: StoreMetrics
  readonly spool: Spool
  readonly batchPoints: number
  readonly flushIntervalMs: number
  readonly backoffMin: number
  readonly backoffMax: number
  readonly maxSpoolBytes: number
  readonly maxInflight: number
  readonly spillAfterMs: number
  /** Journal of spilled requests (see spillAfterMs). */
  readonly spills: Spool
  /** Spilled requests whose points are not yet known to be in InfluxDB or the spool. */
  spillsPending = 0
  /** The journal held records at start (a crash): they are drained first, before the spool. */
  replaySpills: boolean

  mode: 'direct' | 'spool' = 'direct'
  /** Requests sent and not yet out of the list, in the order they were sent. */
  flights: Flight[] = []
  setupDone = false
  private up = true
  private readonly upGauge: Gauge<'target'>
  lastError = ''
  closed = false
  readonly stop = new AbortController()

  constructor(
    readonly opts: InfluxStoreOptions,
    layout: TargetLayout,
    /** Shared by every target, so a write is checked once and refused whole or written to each. */
    readonly types: FieldTypes,
  ) {
    this.name = layout.name
    this.url = layout.url
    const u = new URL(layout.url)
    const { influx, database: db } = influxClient(layout.url, opts.requestTimeoutMs ?? 10_000)
    this.database = db
    this.influx = influx
    // Writes go straight to /write with the spool's own line-protocol bytes, so a spooled batch is
    // sent exactly as it was stored, without being parsed back into points.
    const params = new URLSearchParams({ db, rp: 'raw', precision: 'ms' })
    const authorization = u.username
      ? `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`
      : undefined
    this.maxInflight = opts.maxInflight ?? 2
    this.spillAfterMs = opts.spillAfterMs ?? 50
    // One connection per write in flight (spilled ones included), and one for the drainer.
    this.poster = new OffThreadPoster({
      url: `${u.protocol}//${u.host}/write?${params}`,
      authorization,
      timeoutMs: opts.requestTimeoutMs ?? 10_000,
      maxSockets: this.maxInflight + MAX_SPILLED + 1,
    })
    this.m = storeMetrics(opts.metrics, 'influx', layout.labelled ? layout.name : undefined)
    this.upGauge = opts.metrics.gauge('influx_up', 'InfluxDB server reachable (1) by its last ping or write, per target', ['target'])
    this.upGauge.set({ target: this.name }, 1)
    this.spool = new Spool(layout.spoolDir)
    this.spills = new Spool(layout.spillDir)
    this.replaySpills = !this.spills.empty
    this.batchPoints = opts.batchPoints ?? 5000
    this.flushIntervalMs = opts.flushIntervalMs ?? 0
    this.backoffMin = opts.backoffMinMs ?? 100
    this.backoffMax = opts.backoffMaxMs ?? 5000
    this.maxSpoolBytes = opts.maxSpoolBytes ?? 2 * 1024 ** 3
  }

  /** Reachable by the last ping or write (the `influx_up` gauge follows it). */
  get reachable(): boolean {
    return this.up
  }

  set reachable(up: boolean) {
    if (up === this.up) return
    this.up = up
    this.upGauge.set({ target: this.name }, up ? 1 : 0)
  }

  /**
   * Fit to answer reads: reachable, set up, and nothing waiting in its journals (a server still
   * draining them would answer with a gap).
   */
  get readable(): boolean {
    return this.reachable && this.setupDone && this.mode === 'direct' && !this.closed
  }

  /** Points and bytes in the gateway's disk buffers for InfluxDB: the spool and the spill journal. */
  onDisk(): { points: number; bytes: number } {
    return { points: this.spool.points + this.spills.points, bytes: this.spool.bytes + this.spills.bytes }
  }

  reportSpool(): void {
    const { points, bytes } = this.onDisk()
    this.m.spool(points, bytes)
  }
}
