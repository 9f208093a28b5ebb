import type { Database as Db } from 'better-sqlite3'
import { scopeSql, type Scope } from '../registry/scope.ts'
import { iso, round } from './context.ts'
import type { AlertReportItem, AlertsSection, ReportRequest } from './types.ts'

// Alerts opened in the period (alerts.db): who acknowledged and resolved them and how long it took,
// and the notifications they caused (the outbox rows of docs/notify.md) by outcome.

/** Outbox states by outcome: sent (also as part of a digest), failed for good, still to go. */
const OUTCOME: Record<string, 'sent' | 'failed' | 'pending'> = {
  sent: 'sent',
  digested: 'sent',
  failed: 'failed',
  uncertain: 'failed',
  undeliverable: 'failed',
  pending: 'pending',
  sending: 'pending',
  held: 'pending',
}

interface AlertRow {
  id: string
  rule: string
  kind: string
  severity: string
  title: string
  station: string | null
  device: string | null
  district: string | null
  level: number | null
  state: string
  opened_at: string
  acked_by: string | null
  acked_at: string | null
  resolved_by: string | null
  resolved_at: string | null
  max_level: number | null
}

function stats(values: number[]): { count: number; median_s: number | null; max_s: number | null } {
  if (values.length === 0) return { count: 0, median_s: null, max_s: null }
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
  return { count: s.length, median_s: round(median, 3), max_s: round(s[s.length - 1]!, 3) }
}

export function alertsSection(db: Db, req: ReportRequest, scope: Scope | null): AlertsSection {
  const conds = ['opened_at >= @from', 'opened_at < @to']
  const args: Record<string, string> = { from: iso(req.from), to: iso(req.to) }
  if (req.district) {
    conds.push('district = @district')
    args.district = req.district
  }
  if (req.station) {
    conds.push('station = @station')
    args.station = req.station
  }
  const sc = scopeSql(scope)
  const positional = sc?.args ?? []
  if (sc) conds.push(sc.sql)
  const rows = db
    .prepare(
      `SELECT a.*, (SELECT max(json_extract(h.entry, '$.level')) FROM alert_history h WHERE h.alert_id = a.id) AS max_level
       FROM alerts a WHERE ${conds.join(' AND ')} ORDER BY opened_at, id`,
    )
    .all(...positional, args) as AlertRow[]
  const ids = JSON.stringify(rows.map((r) => r.id))
  const sends = db
    .prepare(
      'SELECT alert_id, channel, state, count(*) AS n FROM outbox WHERE alert_id IN (SELECT value FROM json_each(?)) GROUP BY alert_id, channel, state',
    )
    .all(ids) as Array<{ alert_id: string; channel: string; state: string; n: number }>
  const perAlert = new Map<string, { sent: number; failed: number; pending: number }>()
  const notifications: AlertsSection['notifications'] = { sent: 0, failed: 0, pending: 0, by_channel: {} }
  for (const s of sends) {
    const outcome = OUTCOME[s.state] ?? 'pending'
    const a = perAlert.get(s.alert_id) ?? { sent: 0, failed: 0, pending: 0 }
    a[outcome] += s.n
    perAlert.set(s.alert_id, a)
    notifications[outcome] += s.n
    const c = (notifications.by_channel[s.channel] ??= { sent: 0, failed: 0, pending: 0 })
    c[outcome] += s.n
  }
  const byKind: Record<string, number> = {}
  const bySeverity: Record<string, number> = {}
  const ack: number[] = []
  const res: number[] = []
  const items: AlertReportItem[] = rows.map((r) => {
    byKind[r.kind] = (byKind[r.kind] ?? 0) + 1
    bySeverity[r.severity] = (bySeverity[r.severity] ?? 0) + 1
    const opened = Date.parse(r.opened_at)
    const toAck = r.acked_at ? (Date.parse(r.acked_at) - opened) / 1000 : undefined
    const toResolve = r.resolved_at ? (Date.parse(r.resolved_at) - opened) / 1000 : undefined
    if (toAck !== undefined) ack.push(toAck)
    if (toResolve !== undefined) res.push(toResolve)
    const level = r.max_level ?? r.level
    return {
      id: r.id,
      kind: r.kind,
      rule: r.rule,
      severity: r.severity,
      title: r.title,
      ...(r.station ? { station: r.station } : {}),
      ...(r.device ? { device: r.device } : {}),
      ...(r.district ? { district: r.district } : {}),
      ...(level !== null && level !== undefined ? { level } : {}),
      state: r.state,
      opened_at: r.opened_at,
      ...(r.acked_at ? { acknowledged_at: r.acked_at, acknowledged_by: r.acked_by ?? 'unknown', time_to_ack_s: round(toAck!, 3) } : {}),
      ...(r.resolved_at
        ? { resolved_at: r.resolved_at, resolved_by: r.resolved_by ?? 'unknown', time_to_resolve_s: round(toResolve!, 3) }
        : {}),
      notifications: perAlert.get(r.id) ?? { sent: 0, failed: 0, pending: 0 },
    }
  })
  return {
    opened: rows.length,
    by_kind: byKind,
    by_severity: bySeverity,
    acknowledged: stats(ack),
    resolved: stats(res),
    notifications,
    items,
  }
}
