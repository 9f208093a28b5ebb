// The notifier: routes alert changes to outbox rows (route.ts, in the change's own transaction)
// and sends them from this loop: state pending -> sending (committed before the request) -> sent |
// pending (retry with backoff) | failed (deliver.ts). A notification no provider can carry (or to
// a contact without an address) is written straight in state `undeliverable` (undeliverable.ts).
// After a crash, rows left in `sending` are handled by recovery.ts. createNotifier wires named
// steps sharing one NotifyState (notify-state.ts); the outbox is a store (store.ts): this
// gateway's alerts.db (tables and migrations in db.ts), or PostgreSQL shared by the nodes of a
// cluster (postgres/outbox.ts), where each row is claimed by one node (docs/operations.md
// "Notifications across nodes").
import Value from 'typebox/value'
import type { AlertTx } from '../alerts/store.ts'
import type { AlertChange, ChangeRouter, HistoryNote } from '../alerts/types.ts'
import type { Stations } from '../domain/stations.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import { announce } from './announce.ts'
import { channelsFromConfig } from './channels/index.ts'
import { NotifySection, type NotifyConfig } from './config.ts'
import { sqliteContacts, type ContactStore } from './contacts.ts'
import { openNotifyDb } from './db.ts'
import { deliver } from './deliver.ts'
import { makeDigests } from './digest.ts'
import { notifyMetrics, type NotifyState, type OutboxRow } from './notify-state.ts'
import { listOutbox, type OutboxFilter } from './outbox-list.ts'
import { quietGate, quietUntil } from './quiet.ts'
import { recoverInterrupted } from './recovery.ts'
import { routeInTx } from './route.ts'
import { sqliteOutbox } from './sqlite-outbox.ts'
import type { OutboxStore } from './store.ts'
import { sqliteTokenStore, type ProviderTokenStore } from './token-store.ts'
import { sendTest, type TestResult } from './test-send.ts'
import type { Channel, ContactChannel, OutboxItem } from './types.ts'
import { contactWarnings, undeliverableRecorder, warnUnconfigured } from './undeliverable.ts'
import { schemaProblem } from '../util/schema-error.ts'

export interface NotifierOptions {
  dataDir: string
  logger: Logger
  metrics: Metrics
  /** The `notify` section (defaults filled here). */
  config: Partial<NotifyConfig> | NotifyConfig
  stations?: Stations | undefined
  /** Channel plugins by contact channel; default from config. */
  channels?: Partial<Record<ContactChannel, Channel>> | undefined
  /** Start the sender loop now (default true). */
  start?: boolean | undefined
  pollMs?: number | undefined
  now?: (() => number) | undefined
  /**
   * The outbox when it is not this gateway's alerts.db: PostgreSQL shared by the nodes of a
   * cluster (openPostgresOutbox), written in the alert store's PostgreSQL transactions.
   */
  outbox?: OutboxStore | undefined
  /** The contacts when they are not this gateway's alerts.db: PostgreSQL shared by a cluster (openPostgresContacts). */
  contacts?: ContactStore | undefined
  /** Providers' OAuth tokens when not in this gateway's alerts.db: PostgreSQL shared by a cluster (openPostgresTokenStore). */
  providerTokens?: ProviderTokenStore | undefined
}

export interface Notifier extends ChangeRouter {
  readonly contacts: ContactStore
  readonly config: NotifyConfig
  /** Warnings for a contact on these channels: one per channel no provider carries (empty when all can be sent). */
  contactWarnings(channels: readonly ContactChannel[]): string[]
  sendTest(contactId: string): Promise<TestResult[]>
  outbox(filter?: { state?: string }): Promise<OutboxRow[]>
  /** The outbox as GET /api/v1/notifications lists it (gateway/notify/outbox-list.ts). */
  notifications(
    filter: OutboxFilter,
    page: { limit: number; cursor?: number | undefined },
  ): Promise<{ items: OutboxItem[]; next: string | null }>
  /**
   * Queues one line for the contacts whose `kinds` list `kind` (e.g. `report`, docs/reports.md):
   * SMS unaccented (GSM-7), Zalo OA in full; Zalo ZNS sends registered templates only and is
   * skipped. `key` makes it idempotent (the same notice is queued once per contact and channel).
   * Answers the rows queued.
   */
  announce(notice: { key: string; kind: string; text: string }): Promise<number>
  routeInTx(change: AlertChange, note: HistoryNote | undefined, tx: AlertTx): Promise<void>
  /** Runs the sender until nothing is due now (tests, shutdown). */
  drain(): Promise<void>
  start(): void
  close(): Promise<void>
}

export { idempotencyKey, type OutboxRow } from './notify-state.ts'
export type { TestResult } from './test-send.ts'
export { quietUntil }

/**
 * The escalation settings (notify.escalation, docs/notify.md) as the alert engine takes them: the
 * engine decides when an unacknowledged alert escalates; the notifier routes the change.
 */
export function escalationOptions(cfg: NotifyConfig): { afterMs: number; maxTier: number; checkMs: number } {
  return { afterMs: cfg.escalation.afterS * 1000, maxTier: cfg.escalation.maxTier, checkMs: cfg.escalation.checkMs }
}

/** Finished outbox rows are kept this long (the record of who was told what), then removed. */
const KEEP_MS = 90 * 86_400_000

export function createNotifier(opts: NotifierOptions): Notifier {
  const cfg = Value.Default(NotifySection, Value.Clone(opts.config)) as NotifyConfig
  const bad = schemaProblem(Value.Errors(NotifySection, cfg), { prefix: 'notify', unknown: 'is not an accepted key', required: true })
  if (bad) throw new Error(`config: ${bad.key}: ${bad.message}`)
  // A claim shorter than a provider request would let a second node send a row still in flight.
  if (opts.outbox?.backend === 'postgres' && cfg.claimMs <= cfg.timeoutMs)
    throw new Error(`config: notify.claimMs: ${cfg.claimMs} must exceed notify.timeoutMs (${cfg.timeoutMs})`)
  const shared = openNotifyDb(opts.dataDir)
  const db = shared.db
  const log = opts.logger.child({ component: 'notify' })
  const contacts = opts.contacts ?? sqliteContacts(db)
  const store = opts.outbox ?? sqliteOutbox(db)
  const s: NotifyState = {
    cfg,
    now: opts.now ?? Date.now,
    log,
    m: notifyMetrics(opts.metrics),
    store,
    contacts,
    channels: opts.channels ?? channelsFromConfig(cfg, opts.providerTokens ?? sqliteTokenStore(db)),
    ctx: { sender: cfg.sender, stations: opts.stations },
    undeliverable: undeliverableRecorder(store, opts.metrics, log),
    quiet: quietGate(store, contacts),
  }
  const { now } = s
  if (cfg.enabled !== false) warnUnconfigured(s.channels, contacts.all(), log)
  // Rows this sender left in `sending` when it stopped; before anything is sent.
  let recovered: Promise<void> | undefined = recoverInterrupted(s, true).catch((err: unknown) =>
    log.error({ err }, 'outbox recovery after a restart failed'),
  )

  let running: Promise<void> | undefined
  let again = false
  let closed = false
  let started = false
  let pollTimer: NodeJS.Timeout | undefined
  let pruneTimer: NodeJS.Timeout | undefined

  async function runOnce(): Promise<void> {
    if (recovered) await recovered
    recovered = undefined
    // Shared outbox: rows whose sender stopped mid-request and whose claim lapsed.
    if (store.backend === 'postgres') await recoverInterrupted(s, false)
    for (;;) {
      await makeDigests(s)
      const rows = await store.claimDue(now(), 32)
      if (rows.length === 0) break
      // One contact's messages on one channel one after the other, in the order they were queued
      // (level I before II), and their rate limit counting each as it is sent; contacts in parallel.
      const queues = new Map<string, OutboxRow[]>()
      for (const r of rows) {
        const k = `${r.contact_id}\u0000${r.channel}`
        queues.set(k, [...(queues.get(k) ?? []), r])
      }
      await Promise.all(
        [...queues.values()].map(async (q) => {
          for (const r of q) await deliver(s, r, true)
        }),
      )
      if (closed) break
    }
    s.m.pending.set(await store.pendingCount())
  }

  function kick(): void {
    s.undeliverable.afterCommit().catch((err: unknown) => log.warn({ err }, 'undeliverable notifications not counted'))
    if (closed || !started) return
    if (running) {
      again = true
      return
    }
    running = (async () => {
      do {
        again = false
        try {
          await runOnce()
        } catch (err) {
          log.error({ err }, 'outbox sender failed')
        }
      } while (again && !closed)
    })().finally(() => {
      running = undefined
    })
  }

  const notifier: Notifier = {
    contacts,
    config: cfg,
    contactWarnings: (wanted) => (cfg.enabled === false ? [] : contactWarnings(s.channels, wanted)),
    routeInTx: (change, note, tx) => routeInTx(s, change, note, tx),
    kick,
    sendTest: (contactId) => sendTest(s, contactId),
    async announce(notice) {
      const n = await announce(s, notice)
      if (n > 0) kick()
      return n
    },
    outbox: (filter) => store.all(filter?.state),
    notifications: (filter, page) => listOutbox(store, contacts, filter, page),
    async drain() {
      kick()
      while (running) await running
    },
    start() {
      if (pollTimer || closed) return
      started = true
      // The poll catches retries whose backoff ran out and digests whose window has room.
      // In a cluster it also finds rows other nodes queued, and claims that lapsed.
      let polling = false
      pollTimer = setInterval(() => {
        if (polling || running) return
        polling = true
        ;(async () => {
          const t = await store.nextDue()
          if ((t !== null && t <= now()) || store.backend === 'postgres' || (await store.heldGroups()).length > 0) kick()
        })()
          .catch((err: unknown) => log.warn({ err }, 'outbox poll failed'))
          .finally(() => (polling = false))
      }, opts.pollMs ?? 1000)
      pollTimer.unref()
      const prune = () => {
        store.prune(now() - KEEP_MS).catch((err: unknown) => log.warn({ err }, 'outbox prune failed'))
      }
      prune()
      pruneTimer = setInterval(prune, 3_600_000)
      pruneTimer.unref()
      kick()
    },
    async close() {
      closed = true
      if (pollTimer) clearInterval(pollTimer)
      if (pruneTimer) clearInterval(pruneTimer)
      while (running) await running
      shared.release()
    },
  }
  // Not started: routing still writes the outbox and nothing is sent until start().
  if (opts.start !== false) notifier.start()
  return notifier
}
