import type { AlertTx } from '../alerts/store.ts'
import type { Severity } from '../alerts/types.ts'
import { scopeSql, type Scope } from '../registry/scope.ts'
import { SqlWhere } from '../util/sql-where.ts'
import type { ContactChannel, OutboxState } from './types.ts'

// The notification outbox's contract, kept by this gateway's alerts.db (sqlite-outbox.ts, one
// gateway) and by PostgreSQL (postgres/outbox.ts, every node of a cluster sharing postgres.url,
// docs/operations.md "Notifications across nodes"). test/notify/outbox-contract.ts runs the same
// suite on both.

export interface OutboxRow {
  id: number
  key: string
  alert_id: string | null
  change_seq: number | null
  contact_id: string
  channel: ContactChannel
  severity: Severity
  message: string
  state: string
  attempts: number
  next_at: number
  created_at: number
  sent_at: number | null
  provider_id: string | null
  last_error: string | null
}

/** A row to queue: `pending` (to send) or `undeliverable` (kept as the record, never sent). */
export type NewOutboxRow = Pick<
  OutboxRow,
  'key' | 'alert_id' | 'change_seq' | 'contact_id' | 'channel' | 'severity' | 'message' | 'next_at' | 'created_at' | 'last_error'
> & { state: 'pending' | 'undeliverable' }

export interface OutboxFilter {
  state?: OutboxState | undefined
  contact?: string | undefined
  alert?: string | undefined
  channel?: ContactChannel | undefined
  /** A scoped caller: only messages about alerts of their places (tests and digests belong to none). */
  scope?: Scope | null | undefined
}

/** The WHERE clause of an outbox page (filters, scope, the cursor: ids below it), for both stores. */
export function outboxPageWhere(f: OutboxFilter, cursor: number | undefined): SqlWhere {
  const scoped = scopeSql(f.scope)
  return new SqlWhere()
    .equals('state', f.state)
    .equals('contact_id', f.contact)
    .equals('alert_id', f.alert)
    .equals('channel', f.channel)
    .and(scoped && { sql: `alert_id IN (SELECT id FROM alerts WHERE ${scoped.sql})`, args: scoped.args })
    .and(cursor === undefined ? undefined : 'id < ?', cursor)
}

export interface AlertNotificationCount {
  alert_id: string
  channel: string
  state: string
  n: number
}

export interface HeldGroup {
  contact_id: string
  channel: ContactChannel
  /** The lowest id held: part of the digest's key, so one digest is made of one group. */
  first: number
  n: number
}

export interface OutboxStore {
  readonly backend: 'sqlite' | 'postgres'
  /**
   * Inside the alert change's transaction: the rows it causes commit or roll back with it. A key
   * already queued is left as it is (the same change routed twice queues once).
   */
  insertInTx(tx: AlertTx, rows: readonly NewOutboxRow[]): Promise<void>
  /**
   * Outside any alert change (announcements, tests, digests): answers how many rows were new.
   * `claimed`: this sender works on them at once (a test send), so no other node takes them.
   */
  insert(rows: readonly NewOutboxRow[], opts?: { claimed?: boolean }): Promise<number>
  /**
   * Up to `limit` rows due at `now` (pending or deferred, oldest first) that this sender may work
   * on. PostgreSQL: claimed for `claimMs` by this node, skipping rows another node holds, so each
   * row is worked on by one node; a claim not finished by then lapses and another node takes it.
   */
  claimDue(now: number, limit: number): Promise<OutboxRow[]>
  /**
   * Rows left in `sending` whose sender is gone: SQLite (at start) every one; PostgreSQL those
   * whose claim lapsed, and at start (`startup`) this node's own, left by its previous run. Each
   * is claimed by the caller, which must settle it with setState.
   */
  abandoned(now: number, startup: boolean): Promise<Array<{ id: number; channel: ContactChannel }>>
  byKey(key: string): Promise<OutboxRow | undefined>
  /** Which of these keys are stored (an insert made in a transaction that rolled back is not). */
  present(keys: readonly string[]): Promise<Set<string>>
  /**
   * Any state but `sending` and `sent`; ends this node's claim on the row. PostgreSQL: a row
   * another node has claimed (this node's claim lapsed and the row was taken over) is left alone.
   */
  setState(id: number, state: string, nextAt: number, note: string | null): Promise<void>
  /**
   * pending|deferred -> sending (one more attempt), committed before the provider is asked;
   * false when the row moved meanwhile, or (PostgreSQL) this node's claim on it lapsed.
   */
  markSending(id: number, now: number): Promise<boolean>
  markSent(id: number, at: number, providerId: string): Promise<void>
  sentInWindow(contactId: string, channel: ContactChannel, since: number): Promise<number>
  heldGroups(): Promise<HeldGroup[]>
  /**
   * In one transaction: the group's held rows, the digest `make` builds of them queued, and the
   * rows marked `digested`. Two senders digesting the same group at once make one digest.
   */
  digest(contactId: string, channel: ContactChannel, make: (rows: OutboxRow[]) => NewOutboxRow | undefined): Promise<void>
  /** Rows still to go out (pending, deferred, sending, held): the notify_outbox_pending gauge. */
  pendingCount(): Promise<number>
  nextDue(): Promise<number | null>
  /** Removes finished rows created before `before`. */
  prune(before: number): Promise<void>
  /** The state of an alert (quiet hours skip a resolved alert's messages). */
  alertState(alertId: string): Promise<{ state: string; resolved_at: string | null } | undefined>
  /** Whether the contact was sent a message about the alert on the channel. */
  toldBefore(alertId: string, contactId: string, channel: ContactChannel): Promise<boolean>
  all(state?: string): Promise<OutboxRow[]>
  /**
   * How many messages each of these alerts caused, by channel and state, in (alert_id, channel,
   * state) order: the notifications of a situation report (docs/reports.md).
   */
  countsByAlert(alertIds: readonly string[]): Promise<AlertNotificationCount[]>
  /** Newest first, `limit` + 1 rows (the extra one says there is a next page); id below `cursor`. */
  page(filter: OutboxFilter, page: { limit: number; cursor?: number | undefined }): Promise<OutboxRow[]>
}
