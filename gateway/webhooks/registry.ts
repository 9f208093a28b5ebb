import { randomBytes } from 'node:crypto'
import type { Database as Db } from 'better-sqlite3'
import type { WebhookEvent } from './events.ts'

// Subscriptions and their delivery log, in alerts.db (migration 3, gateway/alerts/db.ts).

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

interface HookRow {
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

export function webhookRegistry(db: Db, now: () => number) {
  const get = db.prepare('SELECT * FROM webhooks WHERE id = ?')
  return {
    list(): Webhook[] {
      return (db.prepare('SELECT * FROM webhooks ORDER BY created_at, id').all() as HookRow[]).map(toWebhook)
    },
    get(id: string): Webhook | undefined {
      const r = get.get(id) as HookRow | undefined
      return r ? toWebhook(r) : undefined
    },
    /** The secret, for signing only (never in an answer after creation, never logged). */
    secretOf(id: string): string | undefined {
      return (get.get(id) as HookRow | undefined)?.secret
    },
    create(input: { url: string; events: WebhookEvent[]; description?: string | undefined; secret?: string | undefined }): {
      webhook: Webhook
      secret: string
    } {
      const id = `wh${randomBytes(6).toString('hex')}`
      const secret = input.secret ?? newSecret()
      const at = iso(now())
      db.prepare('INSERT INTO webhooks (id, url, events, secret, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
        id,
        input.url,
        JSON.stringify(input.events),
        secret,
        input.description ?? null,
        at,
        at,
      )
      return { webhook: this.get(id)!, secret }
    },
    update(
      id: string,
      patch: {
        url?: string | undefined
        events?: WebhookEvent[] | undefined
        description?: string | undefined
        enabled?: boolean | undefined
      },
    ): Webhook | undefined {
      if (!this.get(id)) return undefined
      const at = iso(now())
      if (patch.url !== undefined) db.prepare('UPDATE webhooks SET url = ?, updated_at = ? WHERE id = ?').run(patch.url, at, id)
      if (patch.events !== undefined)
        db.prepare('UPDATE webhooks SET events = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(patch.events), at, id)
      if (patch.description !== undefined)
        db.prepare('UPDATE webhooks SET description = ?, updated_at = ? WHERE id = ?').run(patch.description, at, id)
      if (patch.enabled === true) {
        // Enabled again: a fresh run of failures, and what waited is due now.
        db.prepare(
          'UPDATE webhooks SET enabled = 1, consecutive_failures = 0, disabled_at = NULL, disabled_reason = NULL, updated_at = ? WHERE id = ?',
        ).run(at, id)
        db.prepare("UPDATE webhook_deliveries SET next_at = ? WHERE webhook_id = ? AND state = 'pending'").run(now(), id)
      }
      if (patch.enabled === false)
        db.prepare(
          "UPDATE webhooks SET enabled = 0, disabled_at = ?, disabled_reason = 'disabled by an admin', updated_at = ? WHERE id = ?",
        ).run(at, at, id)
      return this.get(id)
    },
    remove(id: string): boolean {
      return db.prepare('DELETE FROM webhooks WHERE id = ?').run(id).changes > 0
    },
    /** Newest first; `before` is the `n` cursor of the previous page. */
    deliveries(id: string, page: { limit: number; before?: number | undefined }): { items: Delivery[]; next: string | null } {
      const rows = db
        .prepare('SELECT * FROM webhook_deliveries WHERE webhook_id = ? AND n < ? ORDER BY n DESC LIMIT ?')
        .all(id, page.before ?? Number.MAX_SAFE_INTEGER, page.limit + 1) as DeliveryRow[]
      const more = rows.length > page.limit
      const items = rows.slice(0, page.limit)
      return { items: items.map(toDelivery), next: more ? String(items[items.length - 1]!.n) : null }
    },
    /** Queues a delivery again (same body, same key); answers it, or undefined when unknown. */
    redeliver(id: string, deliveryId: string): Delivery | undefined {
      const r = db
        .prepare("UPDATE webhook_deliveries SET state = 'pending', next_at = ? WHERE webhook_id = ? AND id = ? RETURNING *")
        .get(now(), id, deliveryId) as DeliveryRow | undefined
      return r ? toDelivery(r) : undefined
    },
  }
}

export type WebhookRegistry = ReturnType<typeof webhookRegistry>
