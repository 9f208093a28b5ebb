import type { FieldValue, QueriedPoint } from '../types.ts'
import type { Row } from './client.ts'

// An export of a long range from InfluxDB, page by page. Run by the export worker
// (gateway/exports/worker.ts) with its own client, from the plan the store makes on the main thread.

/** Points per InfluxDB query of an export (one JSON answer held at a time). */
export const SCAN_PAGE = 5000

export interface InfluxScanPlan {
  /** `"raw"."<measurement>"` */
  from: string
  /** ` AND ...` tag and place conditions, InfluxQL. */
  conds: string
  tagKeys: string[]
  start: number
  end: number
}

export function pickFields(columns: string[], row: unknown[], skip: ReadonlySet<string>): Record<string, FieldValue> {
  const fields: Record<string, FieldValue> = {}
  columns.forEach((c, i) => {
    if (i === 0 || skip.has(c) || row[i] === null || row[i] === undefined) return
    fields[c] = row[i] as FieldValue
  })
  return fields
}

/**
 * The points of a `SELECT` without GROUP BY (one series, tags as columns): tags the measurement's
 * tag keys name, when set; fields that are set; a row with no field set is no point.
 */
export function pointsOf(r: Row, tagKeys: ReadonlySet<string>): QueriedPoint[] {
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

const timeCond = (from: number, to: number) => `time >= ${Math.trunc(from)}ms AND time < ${Math.trunc(to)}ms`

export async function* influxScan(q: (query: string) => Promise<Row>, plan: InfluxScanPlan): AsyncGenerator<QueriedPoint[]> {
  const { from, conds } = plan
  const tagKeys = new Set(plan.tagKeys)
  const toRows = (r: Row) => pointsOf(r, tagKeys)
  const page = SCAN_PAGE
  // Time-windowed pages: each asks for at most `page` points of a window after the cursor; the
  // window adapts to the data's density, since a query over the whole remaining range costs
  // InfluxDB a scan of every shard in it however small its LIMIT. A page that ends inside an
  // instant gives its last instant back, to be read whole by the next page (the same point must
  // not appear twice nor be skipped); an instant larger than a page is read with OFFSET.
  let cursor = Math.trunc(plan.start)
  const end = Math.trunc(plan.end)
  let window = 3_600_000
  while (cursor < end) {
    const upTo = Math.min(end, cursor + window)
    const r = await q(`SELECT * FROM ${from} WHERE ${timeCond(cursor, upTo)}${conds} ORDER BY time ASC LIMIT ${page}`)
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
        const one = await q(`SELECT * FROM ${from} WHERE time = ${lastTs}ms${conds} LIMIT ${page} OFFSET ${offset}`)
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
