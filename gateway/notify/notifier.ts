import { createHash } from 'node:crypto'
import Value from 'typebox/value'
import type { Alerting, ChangeRouter } from '../alerts/engine.ts'
import { openAlertsDb } from '../alerts/db.ts'
import { severityRank, type AlertChange, type Severity } from '../alerts/types.ts'
import type { Stations } from '../domain/stations.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import { channelsFromConfig } from './channels/index.ts'
import { NotifySection, type NotifyConfig } from './config.ts'
import { sqliteContacts, type ContactStore } from './contacts.ts'
import { toGsm7 } from './gsm7.ts'
import { listOutbox, type OutboxFilter, type OutboxItem } from './outbox-list.ts'
import { quietGate, quietUntil } from './quiet.ts'
import { alertMessage, digestMessage, testMessage, type RenderContext } from './templates.ts'
import type { Channel, Contact, ContactChannel, OutgoingMessage, SendResult } from './types.ts'
import { contactWarnings, undeliverableReason, undeliverableRecorder, warnUnconfigured, type UndeliverableReason } from './undeliverable.ts'
import { schemaProblem } from '../util/schema-error.ts'

// Outbox sender. Rows are written in the alert change's own transaction (routeInTx), then sent
// by this loop: state pending -> sending (committed before the request) -> sent | pending (retry
// with backoff) | failed. A notification no provider can carry (or to a contact without an
// address) is written straight in state `undeliverable` (gateway/notify/undeliverable.ts). After a crash, a row left in `sending` is sent again only through a
// channel whose provider de-duplicates our key (eSMS RequestId); for the others it becomes
// `uncertain` and is reported, because sending it again could deliver it twice.

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
}

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

export interface TestResult {
  channel: ContactChannel
  ok: boolean
  code?: string | undefined
  message?: string | undefined
}

export interface Notifier extends ChangeRouter {
  readonly contacts: ContactStore
  readonly config: NotifyConfig
  /** Warnings for a contact on these channels: one per channel no provider carries (empty when all can be sent). */
  contactWarnings(channels: readonly ContactChannel[]): string[]
  /** Routes the alerting engine's changes here and escalates its unacknowledged alerts. */
  attach(alerting: Alerting): void
  sendTest(contactId: string): Promise<TestResult[]>
  outbox(filter?: { state?: string }): OutboxRow[]
  /** The outbox as GET /api/v1/notifications lists it (gateway/notify/outbox-list.ts). */
  notifications(filter: OutboxFilter, page: { limit: number; cursor?: number | undefined }): { items: OutboxItem[]; next: string | null }
  /**
   * Queues one line for the contacts whose `kinds` list `kind` (e.g. `report`, docs/reports.md):
   * SMS unaccented (GSM-7), Zalo OA in full; Zalo ZNS sends registered templates only and is
   * skipped. `key` makes it idempotent (the same notice is queued once per contact and channel).
   * Answers the rows queued.
   */
  announce(notice: { key: string; kind: string; text: string }): number
  /** Runs the sender until nothing is due now (tests, shutdown). */
  drain(): Promise<void>
  start(): void
  close(): Promise<void>
}

interface Stored extends OutgoingMessage {
  summary: string
  digest?: boolean
  test?: boolean
}

export { quietUntil }

/** Alphanumeric, 32 chars: fits eSMS RequestId (<= 50) and ZNS tracking_id (<= 48, no special chars). */
export const idempotencyKey = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 32)

export function createNotifier(opts: NotifierOptions): Notifier {
  const cfg = Value.Default(NotifySection, Value.Clone(opts.config)) as NotifyConfig
  const bad = schemaProblem(Value.Errors(NotifySection, cfg), { prefix: 'notify', unknown: 'is not an accepted key', required: true })
  if (bad) throw new Error(`config: ${bad.key}: ${bad.message}`)
  const now = opts.now ?? Date.now
  const shared = openAlertsDb(opts.dataDir)
  const db = shared.db
  const log = opts.logger.child({ component: 'notify' })
  const contacts = sqliteContacts(db)
  const channels = opts.channels ?? channelsFromConfig(cfg, db)
  const ctx: RenderContext = { sender: cfg.sender, stations: opts.stations }
  const m = {
    sent: opts.metrics.counter('notifications_sent_total', 'Notifications accepted by the provider', ['channel']),
    failed: opts.metrics.counter('notifications_failed_total', 'Notification attempts that failed', ['channel', 'final']),
    held: opts.metrics.counter('notifications_held_total', 'Notifications held by the per-contact rate limit (sent as a digest)', [
      'channel',
    ]),
    skipped: opts.metrics.counter(
      'notifications_skipped_total',
      "Deferred notifications not sent because the alert was resolved during the contact's quiet hours",
      ['channel'],
    ),
    uncertain: opts.metrics.counter(
      'notifications_uncertain_total',
      'Sends interrupted by a crash through a provider without de-duplication',
      ['channel'],
    ),
    pending: opts.metrics.gauge('notify_outbox_pending', 'Outbox rows waiting to be sent'),
    latency: opts.metrics.histogram('notify_send_seconds', 'Provider request time', ['channel'], [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10]),
  }
  const st = {
    insert:
      db.prepare(`INSERT OR IGNORE INTO outbox (key, alert_id, change_seq, contact_id, channel, severity, message, state, next_at, created_at)
      VALUES (@key, @alert_id, @change_seq, @contact_id, @channel, @severity, @message, 'pending', @next_at, @created_at)`),
    due: db.prepare("SELECT * FROM outbox WHERE state IN ('pending', 'deferred') AND next_at <= ? ORDER BY id LIMIT 32"),
    byKey: db.prepare('SELECT * FROM outbox WHERE key = ?'),
    setState: db.prepare('UPDATE outbox SET state = ?, next_at = ?, last_error = ? WHERE id = ?'),
    sending: db.prepare("UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE id = ? AND state IN ('pending', 'deferred')"),
    sent: db.prepare("UPDATE outbox SET state = 'sent', sent_at = ?, provider_id = ?, last_error = NULL WHERE id = ?"),
    sentInWindow: db.prepare("SELECT count(*) AS n FROM outbox WHERE contact_id = ? AND channel = ? AND state = 'sent' AND sent_at > ?"),
    held: db.prepare(
      "SELECT contact_id, channel, min(id) AS first, count(*) AS n FROM outbox WHERE state = 'held' GROUP BY contact_id, channel",
    ),
    heldRows: db.prepare("SELECT * FROM outbox WHERE state = 'held' AND contact_id = ? AND channel = ? ORDER BY id"),
    digested: db.prepare("UPDATE outbox SET state = 'digested' WHERE state = 'held' AND contact_id = ? AND channel = ?"),
    pendingCount: db.prepare("SELECT count(*) AS n FROM outbox WHERE state IN ('pending', 'deferred', 'sending', 'held')"),
    nextDue: db.prepare("SELECT min(next_at) AS t FROM outbox WHERE state IN ('pending', 'deferred')"),
    prune: db.prepare(
      "DELETE FROM outbox WHERE state IN ('sent', 'digested', 'failed', 'uncertain', 'undeliverable', 'skipped') AND created_at < ?",
    ),
  }

  const undeliverable = undeliverableRecorder(db, opts.metrics, log)
  const quiet = quietGate(db, contacts)
  if (cfg.enabled !== false) warnUnconfigured(channels, contacts.all(), log)

  // Crash recovery (see the header comment).
  const interrupted = db.prepare("SELECT id, channel FROM outbox WHERE state = 'sending'").all() as Array<{
    id: number
    channel: ContactChannel
  }>
  for (const r of interrupted) {
    const ch = channels[r.channel]
    if (ch?.dedupByKey) st.setState.run('pending', now(), 'resent after restart (provider de-duplicates)', r.id)
    else {
      st.setState.run('uncertain', now(), 'interrupted by a restart; not resent to avoid a duplicate', r.id)
      m.uncertain.inc({ channel: r.channel })
      log.error({ outbox: r.id, channel: r.channel }, 'notification interrupted by a restart; check the provider log')
    }
  }

  let alerting: Alerting | undefined
  let running: Promise<void> | undefined
  let again = false
  let closed = false
  let started = false
  let pollTimer: NodeJS.Timeout | undefined
  let escTimer: NodeJS.Timeout | undefined
  let pruneTimer: NodeJS.Timeout | undefined
  /** Finished outbox rows are kept this long (the record of who was told what), then removed. */
  const KEEP_MS = 90 * 86_400_000

  function matches(c: Contact, ch: AlertChange): boolean {
    const a = ch.alert
    if (ch.change.action === 'escalated') {
      if (c.tier !== ch.change.tier) return false
    } else if (c.tier > a.tier) return false
    if (severityRank(a.severity) < severityRank(c.min_severity)) return false
    if (c.kinds && !c.kinds.includes(a.kind)) return false
    if (c.stations && !(a.station && c.stations.includes(a.station))) return false
    if (c.districts && !(a.district && c.districts.includes(a.district))) return false
    return true
  }

  function address(c: Contact, channel: ContactChannel): Pick<OutgoingMessage, 'phone' | 'zaloUserId'> | undefined {
    if (channel === 'zalo_oa') return c.zalo_user_id ? { zaloUserId: c.zalo_user_id } : undefined
    return c.phone ? { phone: c.phone } : undefined
  }

  function routeInTx(change: AlertChange): void {
    if (cfg.enabled === false || change.change.action === 'acknowledged') return
    const t = now()
    const misses: Array<{ contact: Contact; channel: ContactChannel; reason: UndeliverableReason; message: string }> = []
    for (const c of contacts.all()) {
      if (!matches(c, change)) continue
      for (const channel of c.channels) {
        const to = address(c, channel)
        const reason = undeliverableReason(channels, c, channel)
        if (reason || !to) {
          misses.push({
            contact: c,
            channel,
            reason: reason ?? 'no_address',
            message: JSON.stringify({ ...alertMessage(change, channel, ctx), ...to, summary: toGsm7(change.alert.title) }),
          })
          continue
        }
        const body: Stored = { ...alertMessage(change, channel, ctx), ...to, summary: toGsm7(change.alert.title) }
        st.insert.run({
          key: `${change.alert.id}:${change.change.seq}:${c.id}:${channel}`,
          alert_id: change.alert.id,
          change_seq: change.change.seq,
          contact_id: c.id,
          channel,
          severity: change.alert.severity,
          message: JSON.stringify(body),
          next_at: t,
          created_at: t,
        })
      }
    }
    undeliverable.inTx(change, misses, t, alerting?.store)
  }

  function backoff(attempts: number): number {
    // Exponential with jitter ("equal jitter"): half fixed, half random, so retries spread out.
    const exp = Math.min(cfg.retry.maxMs, cfg.retry.baseMs * 2 ** Math.max(0, attempts - 1))
    return Math.round(exp / 2 + Math.random() * (exp / 2))
  }

  async function deliver(row: OutboxRow, gate: boolean): Promise<SendResult | undefined> {
    const channel = channels[row.channel]
    const msg = JSON.parse(row.message) as Stored
    if (!channel) {
      // Queued while a provider was configured; the gateway restarted without it.
      st.setState.run('undeliverable', row.next_at, undeliverable.counted(row.channel, 'no_provider'), row.id)
      return undefined
    }
    if (gate && !msg.digest) {
      const q = quiet(row, now())
      if (q.action === 'skip') {
        st.setState.run('skipped', row.next_at, q.note, row.id)
        m.skipped.inc({ channel: row.channel })
        log.info({ outbox: row.id, channel: row.channel, contact: row.contact_id }, q.note)
        return undefined
      }
      if (q.action === 'defer') {
        st.setState.run('deferred', q.until, q.note, row.id)
        return undefined
      }
    }
    if (gate && row.severity !== 'critical' && !msg.digest) {
      const until = quietUntil(now(), cfg.quietHours)
      if (until !== undefined) {
        st.setState.run('pending', until, 'quiet hours', row.id)
        return undefined
      }
      const n = (st.sentInWindow.get(row.contact_id, row.channel, now() - cfg.rateLimit.windowS * 1000) as { n: number }).n
      if (n >= cfg.rateLimit.max) {
        st.setState.run('held', row.next_at, 'rate limit: goes out in a digest', row.id)
        m.held.inc({ channel: row.channel })
        return undefined
      }
    }
    if (st.sending.run(row.id).changes === 0) return undefined
    const started = process.hrtime.bigint()
    let result: SendResult
    try {
      result = await channel.send(msg, idempotencyKey(row.key))
    } catch (err) {
      result = { ok: false, retry: true, code: 'exception', message: (err as Error).message }
    }
    m.latency.observe({ channel: row.channel }, Number(process.hrtime.bigint() - started) / 1e9)
    if (result.ok) {
      st.sent.run(now(), result.providerId, row.id)
      m.sent.inc({ channel: row.channel })
      return result
    }
    const attempts = row.attempts + 1
    const final = !result.retry || attempts >= cfg.retry.maxAttempts
    st.setState.run(
      final ? 'failed' : 'pending',
      final ? row.next_at : now() + backoff(attempts),
      `${result.code}: ${result.message}`.slice(0, 500),
      row.id,
    )
    m.failed.inc({ channel: row.channel, final: String(final) })
    ;(final ? log.error : log.warn).call(
      log,
      { outbox: row.id, channel: row.channel, code: result.code, attempts },
      final ? 'notification failed for good' : 'notification failed, will retry',
    )
    return result
  }

  function makeDigests(): void {
    const groups = st.held.all() as Array<{ contact_id: string; channel: ContactChannel; first: number; n: number }>
    for (const g of groups) {
      const n = (st.sentInWindow.get(g.contact_id, g.channel, now() - cfg.rateLimit.windowS * 1000) as { n: number }).n
      if (n >= cfg.rateLimit.max) continue
      db.transaction(() => {
        const rows = st.heldRows.all(g.contact_id, g.channel) as OutboxRow[]
        if (rows.length === 0) return
        const items = rows.map((r) => ({ severity: r.severity, summary: (JSON.parse(r.message) as Stored).summary }))
        const first = JSON.parse(rows[0]!.message) as Stored
        const body: Stored = {
          ...digestMessage(items, cfg.rateLimit.windowS, g.channel, ctx, new Date(now()).toISOString()),
          phone: first.phone,
          zaloUserId: first.zaloUserId,
          summary: `${items.length} alerts`,
          digest: true,
        }
        const worst = items.reduce<Severity>((w, i) => (severityRank(i.severity) > severityRank(w) ? i.severity : w), 'info')
        st.insert.run({
          key: `digest:${g.contact_id}:${g.channel}:${g.first}`,
          alert_id: null,
          change_seq: null,
          contact_id: g.contact_id,
          channel: g.channel,
          severity: worst,
          message: JSON.stringify(body),
          next_at: now(),
          created_at: now(),
        })
        st.digested.run(g.contact_id, g.channel)
      })()
    }
  }

  async function runOnce(): Promise<void> {
    for (;;) {
      makeDigests()
      const rows = st.due.all(now()) as OutboxRow[]
      if (rows.length === 0) break
      await Promise.all(rows.map((r) => deliver(r, true)))
      if (closed) break
    }
    m.pending.set((st.pendingCount.get() as { n: number }).n)
  }

  function kick(): void {
    undeliverable.afterCommit()
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

  function escalate(): void {
    if (!alerting || closed) return
    const t = now()
    const afterMs = cfg.escalation.afterS * 1000
    const a = alerting
    const due = a.store.needingEscalation(t, cfg.escalation.maxTier).filter((x) => t - x.attentionSince >= afterMs * x.escalatedTier)
    const changes: AlertChange[] = []
    for (const x of due) {
      const c = a.store.transaction(() => a.markEscalated(x.id, x.escalatedTier + 1))
      if (c) changes.push(c)
    }
    if (changes.length > 0) a.emitAfterCommit(changes)
  }

  const notifier: Notifier = {
    contacts,
    config: cfg,
    contactWarnings: (wanted) => (cfg.enabled === false ? [] : contactWarnings(channels, wanted)),
    routeInTx,
    kick,
    attach(a) {
      alerting = a
      a.setRouter(notifier)
      escTimer ??= setInterval(() => {
        try {
          escalate()
        } catch (err) {
          log.error({ err }, 'escalation check failed')
        }
      }, cfg.escalation.checkMs)
      escTimer.unref()
    },
    async sendTest(contactId) {
      const c = contacts.get(contactId)
      if (!c)
        throw Object.assign(new Error(`contact ${contactId} not found: list them with GET /api/v1/subscriptions`), { statusCode: 404 })
      const at = new Date(now()).toISOString()
      const out: TestResult[] = []
      for (const channel of c.channels) {
        const to = address(c, channel)
        if (!channels[channel]) {
          out.push({ channel, ok: false, code: 'not_configured', message: `channel ${channel} is not configured in notify` })
          continue
        }
        if (!to) {
          out.push({
            channel,
            ok: false,
            code: 'no_address',
            message: channel === 'zalo_oa' ? 'contact has no Zalo user id' : 'contact has no phone number',
          })
          continue
        }
        const key = `test:${c.id}:${channel}:${now()}`
        const body: Stored = { ...testMessage(c.name, channel, ctx, at), ...to, summary: 'test', test: true }
        st.insert.run({
          key,
          alert_id: null,
          change_seq: null,
          contact_id: c.id,
          channel,
          severity: 'info',
          message: JSON.stringify(body),
          next_at: now(),
          created_at: now(),
        })
        const row = st.byKey.get(key) as OutboxRow
        const r = await deliver(row, false)
        out.push(
          r?.ok
            ? { channel, ok: true }
            : { channel, ok: false, code: r && !r.ok ? r.code : 'not_sent', message: r && !r.ok ? r.message : 'not sent' },
        )
      }
      return out
    },
    announce(notice) {
      if (cfg.enabled === false) return 0
      const t = now()
      let n = 0
      for (const c of contacts.all()) {
        if (!c.kinds?.includes(notice.kind)) continue
        for (const channel of c.channels) {
          const to = address(c, channel)
          if (channel === 'zalo_zns' || !to || !channels[channel]) continue
          const text = channel === 'sms' ? toGsm7(`${cfg.sender}: ${notice.text}`) : `${cfg.sender}: ${notice.text}`
          const body: Stored = { text, ...to, summary: toGsm7(notice.text) }
          const r = st.insert.run({
            key: `${notice.key}:${c.id}:${channel}`,
            alert_id: null,
            change_seq: null,
            contact_id: c.id,
            channel,
            severity: 'info',
            message: JSON.stringify(body),
            next_at: t,
            created_at: t,
          })
          n += r.changes
        }
      }
      if (n > 0) kick()
      return n
    },
    outbox(filter) {
      if (filter?.state) return db.prepare('SELECT * FROM outbox WHERE state = ? ORDER BY id').all(filter.state) as OutboxRow[]
      return db.prepare('SELECT * FROM outbox ORDER BY id').all() as OutboxRow[]
    },
    notifications: (filter, page) => listOutbox(db, filter, page),
    async drain() {
      kick()
      while (running) await running
    },
    start() {
      if (pollTimer || closed) return
      started = true
      // The poll catches retries whose backoff ran out and digests whose window has room.
      pollTimer = setInterval(() => {
        const t = (st.nextDue.get() as { t: number | null }).t
        if ((t !== null && t <= now()) || (st.held.all() as unknown[]).length > 0) kick()
      }, opts.pollMs ?? 1000)
      pollTimer.unref()
      const prune = () => {
        try {
          st.prune.run(now() - KEEP_MS)
        } catch (err) {
          log.warn({ err }, 'outbox prune failed')
        }
      }
      prune()
      pruneTimer = setInterval(prune, 3_600_000)
      pruneTimer.unref()
      kick()
    },
    async close() {
      closed = true
      if (pollTimer) clearInterval(pollTimer)
      if (escTimer) clearInterval(escTimer)
      if (pruneTimer) clearInterval(pruneTimer)
      while (running) await running
      shared.release()
    },
  }
  // Not started: routing still writes the outbox and nothing is sent until start().
  if (opts.start !== false) notifier.start()
  return notifier
}
