// The spool drainer of the InfluxDB store: in spool mode it sends what the disk spool holds (and,
// after a crash, the spill journal first) to InfluxDB oldest first, with exponential backoff,
// sets the database up again when InfluxDB came back empty, and returns the store to direct mode
// once nothing is waiting.
import type { FieldType } from '../points.ts'
import { forEachLine } from './line.ts'
import type { InfluxQueries } from './queries.ts'
import { SeriesRanges } from './series-ranges.ts'
import { markUnreachable, refusedPoints, sendLines, type WriteError } from './send.ts'
import { setupInflux } from './setup.ts'
import type { SpoolRecord } from './spool.ts'
import type { InfluxState } from './state.ts'
import type { InfluxWriter } from './writer.ts'

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

export class SpoolDrainer {
  /** The drainer running, if any. */
  draining: Promise<void> | null = null

  constructor(
    private readonly s: InfluxState,
    private readonly writer: InfluxWriter,
    private readonly queries: InfluxQueries,
  ) {}

  enterSpoolMode(): void {
    this.s.mode = 'spool'
    this.s.m.degraded(true)
    this.writer.clearTimer()
    if (!this.draining && !this.s.closed) {
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
    await this.writer.flightsLanded()
    await new Promise((r) => setImmediate(r))
    let attempt = 0
    const backoff = async () => {
      const ms = Math.min(this.s.backoffMax, this.s.backoffMin * 2 ** attempt) * (0.75 + Math.random() * 0.5)
      attempt++
      await sleep(ms, this.s.stop.signal)
    }
    while (!this.s.closed) {
      if (!this.s.setupDone) {
        try {
          await this.setup()
        } catch (err) {
          this.s.reachable = false
          this.s.lastError = (err as Error).message
          await backoff()
          continue
        }
      }
      // After a crash, the requests spilled before it go first: they were sent before anything the
      // spool holds was written.
      const source = this.s.replaySpills ? this.s.spills : this.s.spool
      const seg = source.oldest()
      if (seg === null && source === this.s.spills) {
        this.s.replaySpills = false
        continue
      }
      if (seg === null) {
        // Nothing spooled and no append pending: later writes may go straight to InfluxDB again.
        // `draining` is cleared here, in the same turn, so a failure right after starts a new drainer.
        this.draining = null
        this.s.mode = 'direct'
        this.s.m.degraded(false)
        this.s.reportSpool()
        this.s.opts.logger.info('InfluxDB spool drained; writing directly again')
        this.writer.wakeRoomWaiters()
        return
      }
      let ok = true
      for (const chunk of chunks(seg.records, this.s.batchPoints)) {
        for (;;) {
          if (this.s.closed) return
          try {
            await sendLines(this.s, Buffer.concat(interleaveNewlines(chunk.records)))
            this.s.m.delivered(chunk.points)
            this.writer.landedLate(seriesOf(chunk.records))
            attempt = 0
            break
          } catch (err) {
            const e = err as WriteError
            if (!e.retryable) {
              refusedPoints(this.s, chunk.points, e)
              this.writer.landedLate(seriesOf(chunk.records)) // InfluxDB keeps what it did not refuse
              break
            }
            markUnreachable(this.s, e)
            if (!this.s.setupDone) {
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
      this.s.reportSpool()
      if (!this.s.reachable) this.s.opts.logger.info('InfluxDB reachable again; draining the spool')
      this.s.reachable = true
    }
  }

  async setup(): Promise<void> {
    await setupInflux(this.s.influx, this.s.database)
    // Field types already stored, so a conflicting write is refused before it is acknowledged.
    const r = await this.queries.q('SHOW FIELD KEYS')
    for (const s of r.series ?? [])
      for (const [field, type] of s.values as Array<[string, FieldType]>) this.s.types.set(s.name, field, type)
    this.s.setupDone = true
  }

  async checkReachable(): Promise<void> {
    try {
      const [host] = await this.s.influx.ping(2000)
      this.s.reachable = host?.online === true
    } catch {
      this.s.reachable = false
    }
  }
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
