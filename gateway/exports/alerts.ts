import type { AlertStore } from '../alerts/store.ts'
import type { Scope } from '../registry/scope.ts'
import { CHUNK_CHARS, csvRow, type CsvExport } from './csv.ts'

// Alerts (the alert store: alerts.db, or PostgreSQL in a cluster) opened in a period as CSV, in
// pages of the (opened_at, id) order: each page is one short query, so no statement stays open
// while the response drains.

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

export function alertsCsv(store: Pick<AlertStore, 'openedIn'>, f: AlertExportFilter): CsvExport {
  const filter = {
    from: new Date(f.from).toISOString(),
    to: new Date(f.to).toISOString(),
    kind: f.kind,
    station: f.station,
    device: f.device,
    scope: f.scope,
  }
  let rows = 0
  async function* chunks(): AsyncGenerator<string> {
    let buf = csvRow([...ALERT_COLUMNS])
    let after: { opened_at: string; id: string } | undefined
    for (;;) {
      const page = await store.openedIn(filter, { limit: PAGE, after })
      for (const r of page) {
        buf += csvRow(ALERT_COLUMNS.map((c) => (c === 'late' ? (r.late ? 'true' : 'false') : r[c])))
        rows++
        if (buf.length >= CHUNK_CHARS) {
          yield buf
          buf = ''
        }
      }
      if (page.length < PAGE) break
      const last = page[page.length - 1]!
      after = { opened_at: last.opened_at, id: last.id }
    }
    if (buf.length > 0) yield buf
  }
  return { chunks: chunks(), rows: () => rows }
}
