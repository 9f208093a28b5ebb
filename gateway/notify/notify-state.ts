// The state the notifier's steps share (notifier.ts wires them): the configuration, the outbox
// store, the contacts, the channels and the metrics. Each step is a module-level function
// taking this object: route.ts (alert change -> outbox rows), deliver.ts (one send with quiet
// hours, rate limit and retries), digest.ts, recovery.ts, test-send.ts and announce.ts.
import { createHash } from 'node:crypto'
import type { Severity } from '../alerts/types.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { NotifyConfig } from './config.ts'
import type { ContactStore } from './contacts.ts'
import type { quietGate } from './quiet.ts'
import type { NewOutboxRow, OutboxStore } from './store.ts'
import type { RenderContext } from './templates.ts'
import type { Channel, Contact, ContactChannel, OutgoingMessage } from './types.ts'
import type { undeliverableRecorder } from './undeliverable.ts'

export type { OutboxRow } from './store.ts'

/** An outbox row's message as stored: what the channel sends, plus what digests and tests need. */
export interface Stored extends OutgoingMessage {
  summary: string
  digest?: boolean
  test?: boolean
}

export type NotifyMetrics = ReturnType<typeof notifyMetrics>

export interface NotifyState {
  readonly cfg: NotifyConfig
  readonly now: () => number
  readonly log: Logger
  readonly m: NotifyMetrics
  /** The outbox: this gateway's alerts.db, or PostgreSQL shared by the nodes (store.ts). */
  readonly store: OutboxStore
  readonly contacts: ContactStore
  readonly channels: Partial<Record<ContactChannel, Channel>>
  readonly ctx: RenderContext
  readonly undeliverable: ReturnType<typeof undeliverableRecorder>
  readonly quiet: ReturnType<typeof quietGate>
}

/** Alphanumeric, 32 chars: fits eSMS RequestId (<= 50) and ZNS tracking_id (<= 48, no special chars). */
export const idempotencyKey = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 32)

/** Where a contact is reached on a channel; undefined when it has no such address. */
export function address(c: Contact, channel: ContactChannel): Pick<OutgoingMessage, 'phone' | 'zaloUserId'> | undefined {
  if (channel === 'zalo_oa') return c.zalo_user_id ? { zaloUserId: c.zalo_user_id } : undefined
  return c.phone ? { phone: c.phone } : undefined
}

/**
 * Queues a message of no alert (an announcement, a test) to one contact on one channel, due at
 * `at`; answers the rows inserted (0 when the key is already queued).
 */
export function queueInfo(
  s: Pick<NotifyState, 'store'>,
  m: { key: string; contactId: string; channel: ContactChannel; body: Stored; at: number },
  opts?: { claimed?: boolean },
): Promise<number> {
  return s.store.insert([infoRow(m)], opts)
}

/** The outbox row of a message of no alert. */
export function infoRow(m: {
  key: string
  contactId: string
  channel: ContactChannel
  body: Stored
  at: number
  severity?: Severity
}): NewOutboxRow {
  return {
    key: m.key,
    alert_id: null,
    change_seq: null,
    contact_id: m.contactId,
    channel: m.channel,
    severity: m.severity ?? 'info',
    message: JSON.stringify(m.body),
    state: 'pending',
    next_at: m.at,
    created_at: m.at,
    last_error: null,
  }
}

export function notifyMetrics(metrics: Metrics) {
  return {
    sent: metrics.counter('notifications_sent_total', 'Notifications accepted by the provider', ['channel']),
    failed: metrics.counter('notifications_failed_total', 'Notification attempts that failed', ['channel', 'final']),
    held: metrics.counter('notifications_held_total', 'Notifications held by the per-contact rate limit (sent as a digest)', ['channel']),
    skipped: metrics.counter(
      'notifications_skipped_total',
      "Deferred notifications not sent because the alert was resolved during the contact's quiet hours",
      ['channel'],
    ),
    uncertain: metrics.counter('notifications_uncertain_total', 'Sends interrupted by a crash through a provider without de-duplication', [
      'channel',
    ]),
    pending: metrics.gauge('notify_outbox_pending', 'Outbox rows waiting to be sent'),
    latency: metrics.histogram('notify_send_seconds', 'Provider request time', ['channel'], [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10]),
  }
}
