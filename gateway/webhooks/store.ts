import type { AlertTx } from '../alerts/store.ts'
import type { OutgoingEvent, WebhookEvent } from './events.ts'
import type { Delivery, DeliveryRow, Webhook } from './registry.ts'

// The webhook store's contract: the subscriptions and their deliveries, kept by this gateway's
// alerts.db (sqlite-store.ts, one gateway) and by PostgreSQL (postgres/store.ts, every node of a
// cluster sharing postgres.url, docs/operations.md "Webhooks across nodes"), as the notification
// outbox is (gateway/notify/store.ts). test/webhooks/store-contract.ts runs the same suite on both.

export interface NewWebhook {
  url: string
  events: WebhookEvent[]
  description?: string | undefined
  /** Given at creation, or made by the store (newSecret). */
  secret?: string | undefined
}

export interface WebhookPatch {
  url?: string | undefined
  events?: WebhookEvent[] | undefined
  description?: string | undefined
  enabled?: boolean | undefined
}

/** What the admin API manages (gateway/api/routes/webhooks.ts); the secret leaves only through create. */
export interface WebhookRegistry {
  list(): Promise<Webhook[]>
  get(id: string): Promise<Webhook | undefined>
  create(input: NewWebhook): Promise<{ webhook: Webhook; secret: string }>
  /** `enabled: true` starts a fresh run of failures and makes the waiting deliveries due now. */
  update(id: string, patch: WebhookPatch): Promise<Webhook | undefined>
  /** The subscription and its delivery log. */
  remove(id: string): Promise<boolean>
  /** Newest first; `before` is the `n` cursor of the previous page. */
  deliveries(id: string, page: { limit: number; before?: number | undefined }): Promise<{ items: Delivery[]; next: string | null }>
  /** Queues a delivery again (same body, same key); answers it, or undefined when unknown. */
  redeliver(id: string, deliveryId: string): Promise<Delivery | undefined>
}

/** A delivery handed to the sender, with what it needs to send it (the secret signs, it is never logged). */
export interface ClaimedDelivery extends DeliveryRow {
  url: string
  secret: string
}

export interface WebhookStore extends WebhookRegistry {
  readonly backend: 'sqlite' | 'postgres'
  /**
   * Inside the alert change's transaction: one delivery of `e` per subscription asking for its
   * type, committed or rolled back with the change. Answers how many were queued (an event
   * already queued for a subscription is not queued again).
   */
  queueInTx(tx: AlertTx, e: OutgoingEvent): Promise<number>
  /** The same in a transaction of its own (device offline, report ready). */
  queue(e: OutgoingEvent): Promise<number>
  /**
   * Up to `limit` deliveries due at `now` of enabled subscriptions, each the first still pending
   * of its subscription and ordering key (so one key goes one at a time, in order), oldest first.
   * PostgreSQL: claimed by this node until `now + claimMs`, skipping deliveries another node holds,
   * so each is worked on by one node; a claim not finished by then lapses and another node takes
   * the delivery (and the next of its key waits for it all the while).
   */
  claimDue(now: number, limit: number): Promise<ClaimedDelivery[]>
  /**
   * Just before a delivery's request: false when it may not be sent (delivered or removed
   * meanwhile; PostgreSQL: this node's claim lapsed). PostgreSQL renews the claim, so that it
   * covers the request (claimMs > webhooks.timeoutMs).
   */
  startAttempt(n: number, now: number): Promise<boolean>
  /** Gives up this node's claims on deliveries it did not attempt (their subscription was down in this pass, or the sender stopped). */
  release(ns: readonly number[]): Promise<void>
  /** A 2xx: the delivery is done and the subscription's run of failures ends. */
  delivered(d: DeliveryRow, at: number, status: number): Promise<void>
  /**
   * A failed attempt: the delivery is due again at `nextAt` and its subscription's run of failures
   * grows by one; at `maxFailures` the subscription is disabled. Answers the subscription when
   * this very failure disabled it (one caller, whichever node: the others find it disabled).
   */
  failed(
    d: DeliveryRow,
    f: { at: number; nextAt: number; status: number | null; error: string; maxFailures: number },
  ): Promise<Webhook | undefined>
  /** Whether anything is due at `now` that this sender could claim. */
  anyDue(now: number): Promise<boolean>
  /** Deliveries not yet delivered: the webhook_deliveries_pending gauge. */
  pendingCount(): Promise<number>
}
