import type { Database as Db, Statement } from 'better-sqlite3'

// Retention of the SQLite time series, the counterpart of InfluxDB's `raw` policy (90 days,
// docs/data-model.md): samples older than the retention are deleted, and so are `latest` rows of
// series that reported nothing within it (InfluxDB's last() over `raw` forgets them the same way).
//
// better-sqlite3 is synchronous and the store's writes share its one connection, so a sweep works
// in slices: one transaction of at most `sliceMs` of deletes, then the event loop runs (ingest
// keeps committing) before the next slice. Deletes walk the clustered primary key
// (series, field, ts) one (series, field) pair at a time, `chunk` rows per statement, so a
// first sweep over years of history never holds the loop for long.

export interface RetentionOptions {
  /** How long raw samples are kept. */
  retentionMs: number
  /** Rows deleted per statement. */
  chunk?: number
  /** Work per transaction before the event loop gets a turn. */
  sliceMs?: number
}

/** Where a sweep is: the (series, field) pair in hand and whether it has expired rows left. */
interface Cursor {
  series: number
  field: number
  more: boolean
  done: boolean
}

export class RetentionSweeper {
  private readonly st: { nextPair: Statement; edge: Statement; deleteBefore: Statement; deleteLatest: Statement }
  private readonly chunk: number
  private readonly sliceMs: number
  private running: Promise<number> | null = null
  private stopped = false

  constructor(
    private readonly db: Db,
    private readonly opts: RetentionOptions,
  ) {
    this.chunk = opts.chunk ?? 5000
    this.sliceMs = opts.sliceMs ?? 20
    this.st = {
      // Row values use the primary key: one seek per distinct pair, not a scan of the table.
      nextPair: db.prepare('SELECT series, field FROM samples WHERE (series, field) > (?, ?) ORDER BY series, field LIMIT 1'),
      // The expired sample that follows the `chunk` oldest of a pair, if it has that many.
      edge: db.prepare('SELECT ts FROM samples WHERE series = ? AND field = ? AND ts < ? ORDER BY ts LIMIT 1 OFFSET ?').pluck(),
      deleteBefore: db.prepare('DELETE FROM samples WHERE series = ? AND field = ? AND ts < ?'),
      deleteLatest: db.prepare('DELETE FROM latest WHERE ts < ?'),
    }
  }

  /** Deletes what is older than the retention at `now`; answers the number of rows deleted. */
  sweep(now: number): Promise<number> {
    // One sweep at a time: a timer firing during a long first sweep joins it.
    if (this.stopped) return Promise.resolve(0)
    this.running ??= this.run(now - this.opts.retentionMs).finally(() => (this.running = null))
    return this.running
  }

  /** No new slice starts after this; resolves once a sweep in progress has let go of the database. */
  async stop(): Promise<void> {
    this.stopped = true
    await this.running?.catch(() => {})
  }

  private async run(cutoff: number): Promise<number> {
    const cursor: Cursor = { series: -1, field: -1, more: false, done: false }
    let deleted = 0
    while (!cursor.done && !this.stopped) {
      deleted += this.slice(cursor, cutoff)
      await new Promise((r) => setImmediate(r))
    }
    if (!this.stopped) deleted += this.st.deleteLatest.run(cutoff).changes
    return deleted
  }

  /** One transaction: at least one statement, then more while the slice lasts. */
  private slice(c: Cursor, cutoff: number): number {
    const started = performance.now()
    let deleted = 0
    this.db.transaction(() => {
      do {
        if (!c.more) {
          const next = this.st.nextPair.get(c.series, c.field) as { series: number; field: number } | undefined
          if (!next) {
            c.done = true
            return
          }
          c.series = next.series
          c.field = next.field
        }
        const edge = this.st.edge.get(c.series, c.field, cutoff, this.chunk) as number | undefined
        deleted += this.st.deleteBefore.run(c.series, c.field, edge ?? cutoff).changes
        c.more = edge !== undefined
      } while (performance.now() - started < this.sliceMs)
    })()
    return deleted
  }
}
