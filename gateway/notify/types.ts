import type { Severity } from '../alerts/types.ts'

export const CONTACT_CHANNELS = ['sms', 'zalo_zns', 'zalo_oa'] as const
export type ContactChannel = (typeof CONTACT_CHANNELS)[number]

export interface Contact {
  id: string
  name: string
  /** Vietnamese mobile number as given (0xxxxxxxxx, 84xxxxxxxxx or +84xxxxxxxxx). */
  phone?: string | undefined
  zalo_user_id?: string | undefined
  role: string
  /** 1 gets alerts first; tier n+1 gets an alert left unacknowledged (escalation). */
  tier: number
  kinds?: string[] | undefined
  stations?: string[] | undefined
  districts?: string[] | undefined
  min_severity: Severity
  channels: ContactChannel[]
  /** The contact's own quiet hours (docs/notify.md "Quiet hours"). */
  quiet_hours?: QuietHours | undefined
  created_at: string
}

/**
 * Local time (Asia/Ho_Chi_Minh, UTC+7, no daylight saving) "HH:MM" to "HH:MM"; `from` after `to`
 * spans midnight. Messages below `bypass` wait until `to`; `bypass` and above are sent at once.
 */
export interface QuietHours {
  from: string
  to: string
  bypass: Severity
}

/** What a channel plugin is asked to deliver, snapshot in the outbox row when it is written. */
export interface OutgoingMessage {
  /** Plain text: unaccented GSM-7 for SMS, full Vietnamese for Zalo OA. */
  text: string
  phone?: string | undefined
  zaloUserId?: string | undefined
  /** ZNS: template name in config (`alert`, `test`) and its data. */
  template?: { name: 'alert' | 'test'; data: Record<string, string> } | undefined
}

export type SendResult =
  | { ok: true; providerId: string; duplicate?: boolean }
  /** retry: transient (5xx, timeout, network, quota); else permanent (bad credentials, bad number). */
  | { ok: false; retry: boolean; code: string; message: string }

/**
 * A delivery channel plugin (gateway/notify/channels/<name>.ts). `key` is the idempotency key of
 * one (alert change, contact, channel): alphanumeric, 32 chars, passed where the provider takes
 * one (eSMS RequestId, ZNS tracking_id).
 */
export interface Channel {
  readonly name: string
  /** The provider de-duplicates by `key`, so a send whose outcome is unknown may be sent again. */
  readonly dedupByKey: boolean
  send(msg: OutgoingMessage, key: string): Promise<SendResult>
}

/** States of an outbox row (docs/notify.md "Outbox states"). */
export const OUTBOX_STATES = [
  'pending',
  'deferred',
  'sending',
  'sent',
  'failed',
  'held',
  'digested',
  'uncertain',
  'undeliverable',
  'skipped',
] as const
export type OutboxState = (typeof OUTBOX_STATES)[number]

/** One outbox message as the API lists it (docs/api.md "Notifications"); the console reads the same shape. */
export interface OutboxItem {
  id: number
  alert_id: string | null
  contact: { id: string; name: string | null }
  channel: ContactChannel
  severity: Severity
  kind: 'alert' | 'digest' | 'test'
  text: string
  state: OutboxState
  attempts: number
  created_at: string
  sent_at: string | null
  next_attempt_at: string | null
  provider_message_id: string | null
  provider_answer: string | null
}
