import type { AlertPatch } from './store.ts'
import type { Alert, AlertHistoryEntry, AlertKind, AlertState, Severity } from './types.ts'

/**
 * An `alerts` row as both stores hold it (alerts/db.ts, postgres/migrations.ts). SQLite keeps a
 * boolean as 0/1 and PostgreSQL hands a bigint over as text, hence the two type parameters.
 */
export interface AlertRow<Flag, Epoch> {
  id: string
  rule: string
  kind: string
  subject: string
  station: string | null
  device: string | null
  zone: string | null
  district: string | null
  severity: string
  level: number | null
  value: number | null
  threshold: number | null
  unit: string | null
  state: string
  title: string
  late: Flag
  opened_at: string
  updated_at: string
  acked_by: string | null
  acked_at: string | null
  ack_note: string | null
  resolved_by: string | null
  resolved_at: string | null
  resolve_note: string | null
  escalated_tier: number
  attention_since: Epoch
}

const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v)

/** The API's alert from a row; `late` already read in the store's own boolean form. */
export function rowToAlert(r: AlertRow<unknown, unknown>, late: boolean, history: AlertHistoryEntry[]): Alert {
  return {
    id: r.id,
    rule: r.rule,
    kind: r.kind as AlertKind,
    severity: r.severity as Severity,
    level: opt(r.level),
    station: opt(r.station),
    device: opt(r.device),
    zone: opt(r.zone),
    district: opt(r.district),
    value: opt(r.value),
    threshold: opt(r.threshold),
    unit: opt(r.unit),
    state: r.state as AlertState,
    title: r.title,
    late,
    opened_at: r.opened_at,
    updated_at: r.updated_at,
    acknowledged: r.acked_by ? { by: r.acked_by, at: r.acked_at ?? '', note: opt(r.ack_note) } : undefined,
    resolved: r.resolved_by ? { by: r.resolved_by, at: r.resolved_at ?? '', note: opt(r.resolve_note) } : undefined,
    tier: r.escalated_tier,
    history,
  }
}

/** The columns an alert patch sets, with their values; `late` in the store's own boolean form. */
export function patchColumns(patch: AlertPatch, late: (v: boolean) => unknown): Record<string, unknown> {
  const cols: Record<string, unknown> = { updated_at: patch.updated_at }
  if (patch.severity !== undefined) cols.severity = patch.severity
  if (patch.level !== undefined) cols.level = patch.level
  if (patch.value !== undefined) cols.value = patch.value
  if (patch.threshold !== undefined) cols.threshold = patch.threshold
  if (patch.state !== undefined) cols.state = patch.state
  if (patch.title !== undefined) cols.title = patch.title
  if (patch.late !== undefined) cols.late = late(patch.late)
  if (patch.escalatedTier !== undefined) cols.escalated_tier = patch.escalatedTier
  if (patch.attentionSince !== undefined) cols.attention_since = patch.attentionSince
  if (patch.acknowledged !== undefined) {
    cols.acked_by = patch.acknowledged?.by ?? null
    cols.acked_at = patch.acknowledged?.at ?? null
    cols.ack_note = patch.acknowledged?.note ?? null
  }
  if (patch.resolved !== undefined) {
    cols.resolved_by = patch.resolved?.by ?? null
    cols.resolved_at = patch.resolved?.at ?? null
    cols.resolve_note = patch.resolved?.note ?? null
  }
  return cols
}
