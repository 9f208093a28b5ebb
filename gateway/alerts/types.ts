// Alert model shared by the engine, its store, the API routes and the notifier.
import type { AlertTx } from './store.ts'

export const SEVERITIES = ['info', 'minor', 'major', 'critical'] as const
export type Severity = (typeof SEVERITIES)[number]

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s)
}

export const ALERT_STATES = ['open', 'acknowledged', 'resolved'] as const
export type AlertState = (typeof ALERT_STATES)[number]

/**
 * What the alert is about; also the second level of its MQTT topic `alerts/{kind}/...`. `webhook`:
 * a webhook subscription was disabled after its run of failed deliveries (docs/webhooks.md).
 */
export const ALERT_KINDS = ['water_level', 'rise_rate', 'rainfall', 'aqi', 'silence', 'congestion', 'water_in_zone', 'webhook'] as const
export type AlertKind = (typeof ALERT_KINDS)[number]

export type ChangeAction = 'opened' | 'raised' | 'lowered' | 'acknowledged' | 'resolved' | 'escalated'
/**
 * What a history entry records: an alert change, or a notice that changes nothing in the alert
 * (`notification_undeliverable`: contacts the change should have reached could not be told).
 */
export type HistoryAction = ChangeAction | 'notification_undeliverable'

export interface AlertHistoryEntry {
  seq: number
  /** Wall-clock time of the change, ISO 8601. */
  at: string
  /** Event time of the reading that caused it (ISO 8601), absent for human actions. */
  event_ts?: string | undefined
  action: HistoryAction
  severity: Severity
  level?: number | undefined
  value?: number | undefined
  state: AlertState
  /** Who made a human change (token name) or `system`. */
  by: string
  note?: string | undefined
  /** Raised by readings replayed after an outage. */
  late?: boolean | undefined
  /** For `escalated`: the contact tier now notified. */
  tier?: number | undefined
  /** For `notification_undeliverable`: the channel, why (`no_provider`, `no_address`) and which contacts. */
  channel?: string | undefined
  reason?: string | undefined
  contacts?: string[] | undefined
}

/** A history entry that is an alert change (published, routed to contacts). */
export type ChangeEntry = AlertHistoryEntry & { action: ChangeAction }

export interface Alert {
  id: string
  rule: string
  kind: AlertKind
  severity: Severity
  level?: number | undefined
  station?: string | undefined
  device?: string | undefined
  zone?: string | undefined
  district?: string | undefined
  value?: number | undefined
  threshold?: number | undefined
  unit?: string | undefined
  state: AlertState
  title: string
  late: boolean
  opened_at: string
  updated_at: string
  acknowledged?: { by: string; at: string; note?: string | undefined } | undefined
  resolved?: { by: string; at: string; note?: string | undefined } | undefined
  /** Highest contact tier notified so far (1 until escalated). */
  tier: number
  history: AlertHistoryEntry[]
}

/** One change of one alert, as published on MQTT and SSE and routed to subscribers. */
export interface AlertChange {
  alert: Alert
  change: ChangeEntry
}

/** The subject of an alert: who it is about (one alert per rule and subject at a time). */
export interface Subject {
  key: string
  station?: string | undefined
  device?: string | undefined
  zone?: string | undefined
  district?: string | undefined
}

/** Adds an entry to the alert's history in the change's own transaction (e.g. notifications that could not go out). */
export type HistoryNote = (entry: Omit<AlertHistoryEntry, 'seq'>) => void

/**
 * Receives every alert change inside the transaction that stores it (the notifier's outbox, the
 * webhook deliveries), writing through `tx`: `tx.local` for this gateway's alerts.db, `tx.sql` for
 * the shared PostgreSQL one. It may await only `tx`'s calls (AlertStore.transaction).
 */
export interface ChangeRouter {
  routeInTx(change: AlertChange, note: HistoryNote | undefined, tx: AlertTx): void | Promise<void>
  /** Called after the transaction committed: send what was queued now. */
  kick(): void
}
