import Database, { type Database as Db, type Statement } from 'better-sqlite3'
import { decode } from './values.ts'
import type { FieldValue, QueriedPoint } from '../types.ts'

// An export of a long range, read as a merge of one cursor per (series, field): each cursor pages
// through its own part of the clustered primary key (series, field, ts), so every page is a short
// range scan and nothing is sorted. The merge yields points in time order (ties by series) with all
// their fields. Pages are read synchronously between yields, so no statement stays open across an
// await and memory holds one page per cursor at most.

export interface ScanSeries {
  id: number
  tags: Record<string, string>
}

interface Cursor {
  series: ScanSeries
  field: number
  name: string
  rows: Array<{ ts: number; v: number | string; t: number }>
  i: number
  after: number
  done: boolean
}

const POINTS_PER_PAGE = 1000
/** Rows held across all cursors at most (about 100 bytes each). */
const ROWS_BUDGET = 20_000

export function* sqliteScan(
  db: Db,
  series: readonly ScanSeries[],
  fields: ReadonlyArray<{ id: number; name: string }>,
  from: number,
  to: number,
  decode: (v: number | string, t: number) => FieldValue,
): Generator<QueriedPoint[]> {
  const total = series.length * fields.length
  if (total === 0) return
  const perCursor = Math.max(64, Math.min(2048, Math.floor(ROWS_BUDGET / total)))
  const page: Statement = db.prepare(
    'SELECT ts, v, t FROM samples WHERE series = ? AND field = ? AND ts > ? AND ts < ? ORDER BY ts LIMIT ?',
  )
  const fill = (c: Cursor): boolean => {
    c.rows = page.all(c.series.id, c.field, c.after, to, perCursor) as Cursor['rows']
    c.i = 0
    if (c.rows.length < perCursor) c.done = true
    if (c.rows.length === 0) return false
    c.after = c.rows[c.rows.length - 1]!.ts
    return true
  }
  // A binary min-heap on (ts, series id, field).
  const heap: Cursor[] = []
  const less = (a: Cursor, b: Cursor): boolean => {
    const ta = a.rows[a.i]!.ts
    const tb = b.rows[b.i]!.ts
    return ta !== tb ? ta < tb : a.series.id !== b.series.id ? a.series.id < b.series.id : a.field < b.field
  }
  const push = (c: Cursor): void => {
    heap.push(c)
    let i = heap.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!less(heap[i]!, heap[p]!)) break
      ;[heap[i], heap[p]] = [heap[p]!, heap[i]!]
      i = p
    }
  }
  const siftDown = (): void => {
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < heap.length && less(heap[l]!, heap[m]!)) m = l
      if (r < heap.length && less(heap[r]!, heap[m]!)) m = r
      if (m === i) return
      ;[heap[i], heap[m]] = [heap[m]!, heap[i]!]
      i = m
    }
  }
  for (const s of series) {
    for (const f of fields) {
      // `ts > after`: the first page starts at `from` inclusive (ts are whole ms).
      const c: Cursor = { series: s, field: f.id, name: f.name, rows: [], i: 0, after: Math.ceil(from) - 1, done: false }
      if (fill(c)) push(c)
    }
  }
  let out: QueriedPoint[] = []
  let cur: QueriedPoint | null = null
  let curSeries = -1
  while (heap.length > 0) {
    const c = heap[0]!
    const row = c.rows[c.i]!
    if (!cur || cur.ts !== row.ts || curSeries !== c.series.id) {
      if (out.length >= POINTS_PER_PAGE) {
        yield out
        out = []
      }
      cur = { ts: row.ts, tags: c.series.tags, fields: {} }
      curSeries = c.series.id
      out.push(cur)
    }
    cur.fields[c.name] = decode(row.v, row.t)
    c.i++
    if (c.i < c.rows.length || (!c.done && fill(c))) siftDown()
    else {
      const last = heap.pop()!
      if (heap.length > 0) {
        heap[0] = last
        siftDown()
      }
    }
  }
  if (out.length > 0) yield out
}

/**
 * The scan on a connection of its own, read-only with a small page cache: an export reads the whole
 * range once, and through the writer's 64 MiB cache it would grow the process by that much and push
 * out the pages the writes and the readings API need. Used by the store and by the export worker
 * (gateway/exports/worker.ts), which opens the file from its own thread.
 */
export function* sqliteScanFile(
  file: string,
  series: readonly ScanSeries[],
  fields: ReadonlyArray<{ id: number; name: string }>,
  from: number,
  to: number,
): Generator<QueriedPoint[]> {
  const db = new Database(file, { readonly: true })
  try {
    db.pragma('cache_size = -2048') // KiB
    db.pragma('busy_timeout = 5000')
    yield* sqliteScan(db, series, fields, from, to, decode)
  } finally {
    db.close()
  }
}
