import type { AlertStore, OpenedAlert } from '../alerts/store.ts'
import type { OutboxStore } from '../notify/store.ts'
import type { Scope } from '../registry/scope.ts'
import { iso, round } from './context.ts'
import type { AlertReportItem, AlertsSection, ReportRequest } from './types.ts'

// Alerts opened in the period (the alert store: alerts.db, or PostgreSQL in a cluster): who
// acknowledged and resolved them and how long it took, and the notifications they caused (the
// outbox rows of docs/notify.md, from the outbox store, next to the alerts) by outcome.

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

function stats(values: number[]): { count: number; median_s: number | null; max_s: number | null } {
  if (values.length === 0) return { count: 0, median_s: null, max_s: null }
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
  return { count: s.length, median_s: round(median, 3), max_s: round(s[s.length - 1]!, 3) }
}

/** Where the alerts and their notifications are read: this gateway's alerts.db or PostgreSQL (cluster). */
export interface AlertSources {
  alerts: Pick<AlertStore, 'openedIn'>
  outbox: Pick<OutboxStore, 'countsByAlert'>
}

const PAGE = 1000

export async function alertsSection(src: AlertSources, req: ReportRequest, scope: Scope | null): Promise<AlertsSection> {
  const filter = { from: iso(req.from), to: iso(req.to), district: req.district || undefined, station: req.station || undefined, scope }
  const rows: OpenedAlert[] = []
  for (;;) {
    const last = rows[rows.length - 1]
    const page = await src.alerts.openedIn(filter, { limit: PAGE, after: last ? { opened_at: last.opened_at, id: last.id } : undefined })
    rows.push(...page)
    if (page.length < PAGE) break
  }
  const sends = await src.outbox.countsByAlert(rows.map((r) => r.id))
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
