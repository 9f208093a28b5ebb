import { randomBytes } from 'node:crypto'
import type { WebhookEvent } from './events.ts'
import type { NewWebhook } from './store.ts'

// Subscriptions and their delivery log as the API answers them, and the rows both stores keep
// them in (alerts.db, migration 3 of gateway/alerts/db.ts: sqlite-store.ts; PostgreSQL:
// postgres/store.ts, which converts its own column types to these rows).

export interface Webhook {
  id: string
  url: string
  events: WebhookEvent[]
  description?: string | undefined
  enabled: boolean
  consecutive_failures: number
  disabled_at?: string | undefined
  disabled_reason?: string | undefined
  created_at: string
  updated_at: string
}

export type DeliveryState = 'pending' | 'delivered'

export interface Delivery {
  id: string
  webhook: string
  /** The event id: X-IOC-Delivery, the receiver's idempotency key. */
  key: string
  event: WebhookEvent
  state: DeliveryState
  attempts: number
  /** When the next attempt is due (pending only), ISO 8601. */
  next_attempt_at?: string | undefined
  created_at: string
  delivered_at?: string | undefined
  /** HTTP status of the last attempt; absent when it got no answer. */
  response_code?: number | undefined
  last_error?: string | undefined
}

export interface HookRow {
  id: string
  url: string
  events: string
  secret: string
  description: string | null
  enabled: number
  consecutive_failures: number
  disabled_at: string | null
  disabled_reason: string | null
  created_at: string
  updated_at: string
}
export interface DeliveryRow {
  n: number
  id: string
  webhook_id: string
  event_id: string
  event: string
  ordering_key: string
  body: string
  state: string
  attempts: number
  next_at: number
  created_at: number
  delivered_at: number | null
  last_status: number | null
  last_error: string | null
}

const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v)
const iso = (ms: number) => new Date(ms).toISOString()

export function toWebhook(r: HookRow): Webhook {
  return {
    id: r.id,
    url: r.url,
    events: JSON.parse(r.events) as WebhookEvent[],
    description: opt(r.description),
    enabled: r.enabled === 1,
    consecutive_failures: r.consecutive_failures,
    disabled_at: opt(r.disabled_at),
    disabled_reason: opt(r.disabled_reason),
    created_at: r.created_at,
    updated_at: r.updated_at,
  }
}

export function toDelivery(r: DeliveryRow): Delivery {
  return {
    id: r.id,
    webhook: r.webhook_id,
    key: r.event_id,
    event: r.event as WebhookEvent,
    state: r.state as DeliveryState,
    attempts: r.attempts,
    next_attempt_at: r.state === 'pending' ? iso(r.next_at) : undefined,
    created_at: iso(r.created_at),
    delivered_at: r.delivered_at === null ? undefined : iso(r.delivered_at),
    response_code: opt(r.last_status),
    last_error: opt(r.last_error),
  }
}

export const newSecret = () => `whsec_${randomBytes(24).toString('base64url')}`
export const newDeliveryId = () => `d${randomBytes(8).toString('hex')}`

/** A new subscription's columns: a new id, the secret given or a new one, its events as stored (JSON). */
export function newWebhookRow(input: NewWebhook, at: string) {
  return {
    id: `wh${randomBytes(6).toString('hex')}`,
    url: input.url,
    events: JSON.stringify(input.events),
    secret: input.secret ?? newSecret(),
    description: input.description ?? null,
    at,
  }
}

/** Whether a subscription (its `events` column, JSON) asks for events of this type. */
export const wants = (events: string, type: WebhookEvent) => (JSON.parse(events) as WebhookEvent[]).includes(type)

/** The reason a run of failures disabled a subscription with (kept on it, shown in the admin alert). */
export const failuresReason = (n: number, error: string) => `${n} failed deliveries in a row (last: ${error})`

/** A page of the delivery log from up to `limit + 1` rows, newest first: the extra one says there is a next page. */
export function deliveryPage(rows: readonly DeliveryRow[], limit: number): { items: Delivery[]; next: string | null } {
  const items = rows.slice(0, limit)
  return { items: items.map(toDelivery), next: rows.length > limit ? String(items[items.length - 1]!.n) : null }
}
