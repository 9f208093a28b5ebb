import { closeSync, existsSync, fdatasyncSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Logger } from '../../log/logger.ts'
import { escMeasurement, ident, lit, parseSeries } from './line.ts'
import type { SeriesRanges } from './series-ranges.ts'
import { RAW_RETENTION_MS, ROLLUP_FIELDS, ROLLUPS, rollupQuery, type RolledUp } from './setup.ts'
import { fsyncDir } from './spool.ts'

// Rollup buckets recomputed for points that reached InfluxDB after the continuous queries had
// computed them for the last time (setup.ts: one and two intervals after a bucket closes): an edge
// agent's replay after a link outage, the gateway's spool draining after an InfluxDB outage, a
// device whose clock runs behind. Such points are noted when InfluxDB accepts them, before the
// write is acknowledged, in a journal fsync'd to disk (a restart still recomputes them); every
// `intervalMs` their series' hours are recomputed with the continuous query's own statement,
// narrowed to those series and hours. Recomputing is idempotent: a bucket is overwritten with the
// same values, so a note repeated after a crash or a bucket also computed by InfluxDB costs only time.

const MINUTE = 60_000
const HOUR = 3_600_000
/**
 * A 1-minute bucket's last scheduled computation starts two minutes after the bucket does; a
 * point landing less than this after its bucket started is still in it. The 15 s margin covers
 * InfluxDB's run interval and the query's own time. (An hour bucket's last run is two hours after
 * it starts, so a point not late for its minute is not late for its hour either.)
 */
const LATE_AFTER_BUCKET_MS = 2 * MINUTE - 15_000
/** Series in one query, joined by OR. */
const SERIES_PER_QUERY = 50

export interface RollupBackfillOptions {
  /** The journal file. */
  file: string
  database: string
  /** Runs one SELECT ... INTO; throws when InfluxDB does not carry it out. */
  run: (query: string) => Promise<void>
  logger: Logger
  /** Whether InfluxDB can take the queries now (reachable, nothing waiting in the spool). */
  ready: () => boolean
  intervalMs?: number
  /**
   * Series noted one by one at most; beyond, a measurement's whole hours are recomputed (one
   * entry per measurement), so a replay of every device after a long outage keeps memory bounded.
   */
  maxSeries?: number
  onQuery?: (ok: boolean) => void
  onPending?: (series: number) => void
}

interface Pending {
  /** Hour-aligned [from, to). */
  from: number
  to: number
  /** Bumped by every note, so a run that read the series before the latest note keeps it. */
  version: number
}

/** Points with a time before this are late when they reach InfluxDB at `now` (epoch ms). */
export function lateBefore(now: number): number {
  // Late when the minute bucket's start is before now - LATE_AFTER_BUCKET_MS.
  return Math.ceil((now - LATE_AFTER_BUCKET_MS) / MINUTE) * MINUTE
}

export class RollupBackfill {
  private readonly pending = new Map<string, Pending>()
  private readonly maxSeries: number
  private fd: number
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private closed = false

  constructor(private readonly opts: RollupBackfillOptions) {
    this.maxSeries = opts.maxSeries ?? 10_000
    if (existsSync(opts.file)) {
      for (const line of readFileSync(opts.file, 'utf8').split('\n')) {
        // The last line may be torn (killed mid-append); its write was not acknowledged.
        try {
          const e = JSON.parse(line) as { s: string; f: number; t: number }
          if (typeof e.s === 'string' && Number.isFinite(e.f) && Number.isFinite(e.t)) this.merge(this.keyFor(e.s), e.f, e.t)
        } catch {
          /* torn or empty line */
        }
      }
    }
    this.fd = this.rewrite()
    this.opts.onPending?.(this.pending.size)
  }

  get size(): number {
    return this.pending.size
  }

  /**
   * Notes the late part of points InfluxDB has just accepted. Synchronous and durable before it
   * returns: the caller acknowledges the points after it.
   */
  note(ranges: SeriesRanges, now = Date.now()): void {
    const before = lateBefore(now)
    if (ranges.oldest >= before) return
    // Older points than the raw retention are dropped by InfluxDB; their hours are not recomputed.
    const kept = Math.floor((now - RAW_RETENTION_MS) / HOUR) * HOUR
    const added: string[] = []
    ranges.forEach((series, min, max) => {
      if (min >= before) return
      const key = this.keyFor(series)
      const from = Math.max(kept, Math.floor(min / HOUR) * HOUR)
      const to = (Math.floor(Math.min(max, before - 1) / HOUR) + 1) * HOUR
      if (to <= from) return
      if (this.merge(key, from, to)) added.push(journalLine(key, from, to))
    })
    if (added.length === 0) return
    writeSync(this.fd, added.join(''))
    fdatasyncSync(this.fd)
    this.opts.onPending?.(this.pending.size)
  }

  start(): void {
    this.timer = setInterval(() => {
      if (!this.running && this.pending.size > 0 && this.opts.ready()) void this.runNow()
    }, this.opts.intervalMs ?? 60_000)
    this.timer.unref()
  }

  /** Recomputes every series noted so far; a failed query leaves them for the next run. */
  runNow(): Promise<void> {
    if (this.running) return this.running
    const p = this.recompute().finally(() => {
      this.running = null
    })
    this.running = p
    return p
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    await this.running
    closeSync(this.fd)
  }

  private async recompute(): Promise<void> {
    const taken = new Map([...this.pending].map(([k, v]) => [k, v.version]))
    try {
      for (const query of this.queries()) {
        if (this.closed) return
        await this.opts.run(query)
        this.opts.onQuery?.(true)
      }
    } catch (err) {
      this.opts.onQuery?.(false)
      this.opts.logger.warn({ err, series: taken.size }, 'rollup recompute for late points failed; retried at the next run')
      return
    }
    for (const [k, version] of taken) if (this.pending.get(k)?.version === version) this.pending.delete(k)
    closeSync(this.fd)
    this.fd = this.rewrite()
    this.opts.onPending?.(this.pending.size)
  }

  /** Per measurement and hour, the series noted in it, OR'ed in groups, for each rollup. */
  private *queries(): Generator<string> {
    const hours = new Map<string, { m: RolledUp; hour: number; conds: string[] | 'all' }>()
    for (const [key, p] of this.pending) {
      const { measurement, tags } = parseSeries(key)
      if (!(measurement in ROLLUP_FIELDS)) continue
      const cond = tags.map(([k, v]) => `${ident(k)} = ${lit(v)}`).join(' AND ')
      for (let hour = p.from; hour < p.to; hour += HOUR) {
        const id = `${measurement}\n${hour}`
        const h = hours.get(id) ?? { m: measurement as RolledUp, hour, conds: [] }
        hours.set(id, h)
        if (tags.length === 0) h.conds = 'all'
        else if (h.conds !== 'all') h.conds.push(`(${cond})`)
      }
    }
    for (const { m, hour, conds } of hours.values()) {
      const time = `time >= ${hour}ms AND time < ${hour + HOUR}ms`
      const groups = conds === 'all' ? [''] : chunk(conds, SERIES_PER_QUERY).map((c) => `(${c.join(' OR ')}) AND `)
      for (const g of groups) for (const r of ROLLUPS) yield rollupQuery(this.opts.database, m, r, `${g}${time}`)
    }
  }

  /** The pending entry a series is noted under: its own, or its measurement's once there are too many. */
  private keyFor(series: string): string {
    if (this.pending.has(series) || this.pending.size < this.maxSeries) return series
    return escMeasurement(parseSeries(series).measurement)
  }

  /** Widens (or adds) an entry; true when its range grew (the journal must hear of it). */
  private merge(key: string, from: number, to: number): boolean {
    const p = this.pending.get(key)
    if (p === undefined) {
      this.pending.set(key, { from, to, version: 0 })
      return true
    }
    p.version++
    if (from >= p.from && to <= p.to) return false
    p.from = Math.min(p.from, from)
    p.to = Math.max(p.to, to)
    return true
  }

  /** Writes the pending entries to a fresh journal (atomically) and opens it for appends. */
  private rewrite(): number {
    const tmp = `${this.opts.file}.tmp`
    const fd = openSync(tmp, 'w')
    const lines = [...this.pending].map(([key, p]) => journalLine(key, p.from, p.to)).join('')
    if (lines) writeSync(fd, lines)
    fsyncSync(fd)
    closeSync(fd)
    renameSync(tmp, this.opts.file)
    fsyncDir(dirname(this.opts.file))
    return openSync(this.opts.file, 'a')
  }
}

/** One journal entry: a series (or measurement) and its hours [from, to), as the constructor reads it back. */
const journalLine = (key: string, from: number, to: number): string => `${JSON.stringify({ s: key, f: from, t: to })}\n`

function chunk<T>(xs: T[], n: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n))
  return out
}
