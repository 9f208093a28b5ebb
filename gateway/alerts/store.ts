import type pg from 'pg'
import { scopeSql, type Scope } from '../registry/scope.ts'
import { SqlWhere } from '../util/sql-where.ts'
import type { AlertRow } from './row.ts'
import type { Alert, AlertHistoryEntry, AlertKind, AlertState, Severity } from './types.ts'

// The alert store's contract, kept by the embedded SQLite file (sqlite-store.ts, one gateway) and
// by PostgreSQL (postgres/store.ts, several nodes sharing postgres.url). test/alerts/contract.ts
// runs the same suite on both.

export interface AlertFilter {
  state?: AlertState | undefined
  kind?: AlertKind | undefined
  station?: string | undefined
  device?: string | undefined
  /** Only alerts of these districts and stations (a scoped user). */
  scope?: Scope | null | undefined
}

export interface NewAlert {
  id: string
  rule: string
  kind: AlertKind
  subject: string
  station?: string | undefined
  device?: string | undefined
  zone?: string | undefined
  district?: string | undefined
  severity: Severity
  level?: number | undefined
  value?: number | undefined
  threshold?: number | undefined
  unit?: string | undefined
  title: string
  late: boolean
  at: string
  /** Epoch ms from which an unacknowledged alert counts towards escalation. */
  attentionSince: number
}

export type AlertPatch = Partial<Pick<Alert, 'severity' | 'level' | 'value' | 'threshold' | 'state' | 'title' | 'late'>> & {
  updated_at: string
  acknowledged?: { by: string; at: string; note?: string | undefined } | null
  resolved?: { by: string; at: string; note?: string | undefined } | null
  escalatedTier?: number
  attentionSince?: number
}

export type EscalationCandidate = Alert & { escalatedTier: number; attentionSince: number }

/** Alerts opened in [from, to) (ISO times, as stored), for reports and exports. */
export interface OpenedFilter {
  from: string
  to: string
  kind?: string | undefined
  station?: string | undefined
  device?: string | undefined
  district?: string | undefined
  scope?: Scope | null | undefined
}

/** The list's filters and cursor (the last updated_at and id seen, newest first), for both stores. */
export function alertListWhere(f: AlertFilter, cursor: string | undefined): SqlWhere {
  const where = new SqlWhere()
    .equals('state', f.state)
    .equals('kind', f.kind)
    .equals('station', f.station)
    .equals('device', f.device)
    .and(scopeSql(f.scope))
  if (!cursor) return where
  const [u, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|')
  return where.and('(updated_at, id) < (?, ?)', u ?? '', id ?? '')
}

/** The alerts opened in [from, to) after the page's last (opened_at, id), for both stores. */
export function openedInWhere(f: OpenedFilter, after: { opened_at: string; id: string } | undefined): SqlWhere {
  return new SqlWhere()
    .and('opened_at >= ?', f.from)
    .and('opened_at < ?', f.to)
    .and(after && { sql: '(opened_at, id) > (?, ?)', args: [after.opened_at, after.id] })
    .equals('kind', f.kind)
    .equals('station', f.station)
    .equals('device', f.device)
    .equals('district', f.district)
    .and(scopeSql(f.scope))
}

/**
 * An alert as it is now, one row of a report or an export: its columns as stored (the same on
 * both stores), and the highest level any of its history entries reached (null when none has one).
 */
export type OpenedAlert = Omit<AlertRow<boolean, number>, 'subject' | 'escalated_tier' | 'attention_since'> & {
  max_level: number | null
}

export interface AlertPage {
  items: Alert[]
  next: string | null
}

/** What can be read, in a transaction (its own writes included) or outside one (what is committed). */
export interface AlertReads {
  get(id: string): Promise<Alert | undefined>
  active(rule: string, subject: string): Promise<Alert | undefined>
  /** Newest change first; `next` is the cursor of the following page, null on the last. */
  list(filter: AlertFilter, page: { limit: number; cursor?: string | undefined }): Promise<AlertPage>
  /** Unresolved, unacknowledged alerts whose attention started before `before` (epoch ms) and tier < tierBelow. */
  needingEscalation(before: number, tierBelow: number): Promise<EscalationCandidate[]>
  /** The seq the alert's next history entry takes. */
  nextSeq(id: string): Promise<number>
  loadRuleState(rule: string, subject: string): Promise<unknown>
  /** Every rule state of a rule (silence needs the whole set at start-up). */
  ruleStates(rule: string): Promise<Array<{ subject: string; state: unknown }>>
  /** How many alerts are not resolved (the alerts_open gauge). */
  countOpen(): Promise<number>
  /** The subject key of an alert (its rule state's key), undefined when there is no such alert. */
  subjectOf(id: string): Promise<string | undefined>
  /**
   * Up to `limit` alerts opened in the filter's period, in (opened_at, id) order, after the
   * (opened_at, id) `after` when given: the situation reports and the alerts export (docs/reports.md,
   * docs/api.md "Exports") page through them, so a cluster's reports list every node's alerts.
   */
  openedIn(filter: OpenedFilter, page: { limit: number; after?: { opened_at: string; id: string } | undefined }): Promise<OpenedAlert[]>
}

export interface AlertWrites {
  /**
   * Opens an alert. Answers false, changing nothing, when (rule, subject) already has an alert
   * that is not resolved: one active alert per rule and subject, kept by a unique index, so two
   * writers opening the same one at once (two nodes) end with one alert and no error.
   */
  insert(a: NewAlert): Promise<boolean>
  update(id: string, patch: AlertPatch): Promise<void>
  appendHistory(id: string, entry: AlertHistoryEntry): Promise<void>
  /** Writes rule states; of two for the same rule and subject the later one is kept. */
  saveRuleStates(states: readonly RuleStateRow[]): Promise<void>
}

/** A rule's state for one subject (a level condition's or a silence rule's). */
export interface RuleStateRow {
  rule: string
  subject: string
  state: unknown
}

/** A transaction: reads see its own writes; nothing of it is visible to others until it commits. */
export interface AlertTx extends AlertReads, AlertWrites {
  /**
   * Synchronous writes to this gateway's alerts.db that belong to the change (the notification
   * outbox and the webhook deliveries when they are in alerts.db: ChangeRouter.routeInTx).
   * SQLite: inside this very transaction, so the change and what it causes commit or roll back
   * together. PostgreSQL: in a local SQLite transaction of their own, committed before the
   * PostgreSQL one, so not atomic with the change: what must be goes through `sql`.
   */
  local(fn: () => void): void
  /**
   * PostgreSQL: this transaction's own connection, for another capability's rows that must commit
   * with the change in the shared database (the notification outbox and the webhook deliveries,
   * docs/operations.md "Notifications across nodes", "Webhooks across nodes"). Undefined on SQLite,
   * where `local` is this transaction.
   */
  readonly sql?: Pick<pg.PoolClient, 'query'> | undefined
}

/** A lease's name and the fencing token a write was made under (gateway/cluster/leases.ts). */
export interface Fence {
  name: string
  token: number
}

export interface TxOptions {
  /**
   * Cluster mode: the transaction first checks that `fence` is still the lease's current token
   * and rejects with FencedError (errors.ts), storing nothing, when it is not. The SQLite store
   * has no leases and ignores it.
   */
  fence?: Fence | undefined
}

/**
 * Alerts, their history and rule state. Every call answers a promise: a shared store
 * (PostgreSQL) answers over the network. Callers keep the order of changes to one subject
 * themselves (ordering.ts); the store keeps one active alert per (rule, subject).
 */
export interface AlertStore extends AlertReads, AlertWrites {
  readonly backend: 'sqlite' | 'postgres'
  /**
   * Runs `fn` in one transaction: committed when its promise resolves, rolled back (nothing of it
   * kept) when it rejects, which `transaction` then rejects with. `fn` must await only the
   * handle's calls: on SQLite the transaction is open on the connection alerts.db shares with
   * notify and webhooks, and waiting there for anything else (I/O, timers) is refused.
   */
  transaction<T>(fn: (tx: AlertTx) => Promise<T>, opts?: TxOptions): Promise<T>
  /**
   * The periodic write of dirty rule states (alerting-state.ts flush): every group in one
   * transaction. Cluster mode: a group written under a lease (`fence`) whose token is no longer
   * current is left out and the others written; answers the fences left out. The SQLite store
   * has no leases and writes every group.
   */
  flushRuleStates(groups: ReadonlyArray<FencedRuleStates>): Promise<Fence[]>
  close(): Promise<void>
}

/** Rule states written under one lease (none: not fenced). */
export interface FencedRuleStates {
  fence?: Fence | undefined
  states: readonly RuleStateRow[]
}
