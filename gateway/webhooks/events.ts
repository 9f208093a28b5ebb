import type { AlertChange, ChangeAction } from '../alerts/types.ts'

// What a subscription can ask for, and how gateway events map to it (docs/webhooks.md "Events").

export const WEBHOOK_EVENTS = [
  'alert.opened',
  'alert.level_changed',
  'alert.acknowledged',
  'alert.resolved',
  'device.offline',
  'report.ready',
] as const
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number]

/** One event, as queued for every subscription that asked for its type. */
export interface OutgoingEvent {
  /** Stable across retries and redeliveries: the receiver's idempotency key (X-IOC-Delivery). */
  id: string
  type: WebhookEvent
  /** Deliveries with the same key reach a subscription in the order they were made (one alert, one device). */
  orderingKey: string
  /** Wall-clock time of the event, ISO 8601. */
  at: string
  data: Record<string, unknown>
}

const ALERT_EVENT: Partial<Record<ChangeAction, WebhookEvent>> = {
  opened: 'alert.opened',
  raised: 'alert.level_changed',
  lowered: 'alert.level_changed',
  acknowledged: 'alert.acknowledged',
  resolved: 'alert.resolved',
}

/** The event of an alert change; escalations (a notify matter) are not sent. */
export function alertEvent(c: AlertChange): OutgoingEvent | undefined {
  const type = ALERT_EVENT[c.change.action]
  if (!type) return undefined
  const { history: _h, ...alert } = c.alert
  return {
    id: `${c.alert.id}.${c.change.seq}`,
    type,
    orderingKey: `alert:${c.alert.id}`,
    at: c.change.at,
    data: { alert, change: c.change },
  }
}

export function deviceOfflineEvent(device: string, ts: number): OutgoingEvent {
  const at = new Date(ts).toISOString()
  return {
    id: `device.${device}.offline.${ts}`,
    type: 'device.offline',
    orderingKey: `device:${device}`,
    at,
    data: { device, offline_since: at },
  }
}

/** A daily report is ready (the reports capability calls this once it has stored the report). */
export function reportReadyEvent(reportId: string, data: Record<string, unknown>, at: string): OutgoingEvent {
  return { id: `report.${reportId}`, type: 'report.ready', orderingKey: `report:${reportId}`, at, data: { report: reportId, ...data } }
}

/** The delivery body: the same JSON for every attempt of one event (its signature covers it). */
export function eventBody(e: OutgoingEvent): string {
  return JSON.stringify({ id: e.id, type: e.type, created_at: e.at, data: e.data })
}
