import type { Database as Db } from 'better-sqlite3'
import { scopeSql, type Scope } from '../registry/scope.ts'
import { CHUNK_BYTES, csvRow, type CsvExport } from './csv.ts'

// Alerts (alerts.db) opened in a period as CSV, in pages of the (opened_at, id) order: each page is
// one short synchronous query, so no statement stays open while the response drains.

export interface AlertExportFilter {
  from: number
  to: number
  kind?: string | undefined
  station?: string | undefined
  device?: string | undefined
  scope?: Scope | null | undefined
}

export const ALERT_COLUMNS = [
  'id',
  'opened_at',
  'updated_at',
  'kind',
  'rule',
  'severity',
  'level',
  'state',
  'station',
  'device',
  'zone',
  'district',
  'value',
  'threshold',
  'unit',
  'title',
  'late',
  'acked_by',
  'acked_at',
  'ack_note',
  'resolved_by',
  'resolved_at',
  'resolve_note',
] as const

const PAGE = 1000

export function alertsCsv(db: Db, f: AlertExportFilter): CsvExport {
  const where = ['opened_at >= @from', 'opened_at < @to', '(opened_at > @afterAt OR (opened_at = @afterAt AND id > @afterId))']
  // opened_at is stored as toISOString(): its text order is its time order.
  const args: Record<string, unknown> = { from: new Date(f.from).toISOString(), to: new Date(f.to).toISOString() }
  for (const k of ['kind', 'station', 'device'] as const) {
    if (f[k] !== undefined) {
      where.push(`${k} = @${k}`)
      args[k] = f[k]
    }
  }
  const scoped = scopeSql(f.scope)
  const scopeArgs = scoped?.args ?? []
  if (scoped) where.push(scoped.sql)
  const stmt = db.prepare(
    `SELECT ${ALERT_COLUMNS.join(', ')} FROM alerts WHERE ${where.join(' AND ')} ORDER BY opened_at, id LIMIT ${PAGE}`,
  )
  let rows = 0
  async function* chunks(): AsyncGenerator<string> {
    let buf = csvRow([...ALERT_COLUMNS])
    let afterAt = ''
    let afterId = ''
    for (;;) {
      const page = stmt.all(...scopeArgs, { ...args, afterAt, afterId }) as Array<
        Record<(typeof ALERT_COLUMNS)[number], string | number | null>
      >
      for (const r of page) {
        buf += csvRow(ALERT_COLUMNS.map((c) => (c === 'late' ? (r.late === 1 ? 'true' : 'false') : r[c])))
        rows++
        if (buf.length >= CHUNK_BYTES) {
          yield buf
          buf = ''
        }
      }
      if (page.length < PAGE) break
      afterAt = String(page[page.length - 1]!.opened_at)
      afterId = String(page[page.length - 1]!.id)
    }
    if (buf.length > 0) yield buf
  }
  return { chunks: chunks(), rows: () => rows }
}
