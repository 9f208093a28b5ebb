import { randomBytes } from 'node:crypto'
import type { Database as Db } from 'better-sqlite3'
import type { AlertChange } from '../alerts/types.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { WebhooksConfig } from './config.ts'
import { alertEvent, eventBody, type OutgoingEvent, type WebhookEvent } from './events.ts'
import { webhookRegistry, type DeliveryRow, type Webhook, type WebhookRegistry } from './registry.ts'
import { signature } from './signing.ts'

// The webhook sender (docs/webhooks.md). Deliveries are rows of alerts.db written in the same
// transaction as the alert change that causes them (routeInTx, as the notification outbox), so a
// committed change always has its deliveries and a rolled-back one has none: at-least-once without
// a window between the change and the queue. Each delivery is retried with exponential backoff and
// jitter until its receiver answers 2xx; deliveries of one alert (one ordering key) go one at a
// time, in order, so a receiver never sees change n+1 before change n.

export interface WebhooksOptions {
  db: Db
  logger: Logger
  metrics: Metrics
  config: WebhooksConfig
  now?: (() => number) | undefined
  /** 0-1, for the jitter (tests make it fixed). */
  random?: (() => number) | undefined
  /** Told once when a subscription is disabled after its run of failures (the admin alert). */
  onDisabled?: ((w: Webhook) => void) | undefined
}

export interface Webhooks {
  readonly registry: WebhookRegistry
  /** Inside the alert change's transaction: queues its event for every subscription asking for it. */
  routeInTx(change: AlertChange): void
  /** Queues an event in its own transaction (device offline, report ready). */
  enqueue(event: OutgoingEvent): void
  /** Sends what is due now (after a commit, and on the poll timer). */
  kick(): void
  /** Runs attempts until nothing is due now; answers how many deliveries were attempted. */
  drain(): Promise<number>
  start(): void
  close(): Promise<void>
}

export function createWebhooks(opts: WebhooksOptions): Webhooks {
  const { db, config: cfg } = opts
  const now = opts.now ?? Date.now
  const random = opts.random ?? Math.random
  const log = opts.logger.child({ part: 'webhooks' })
  const registry = webhookRegistry(db, now)
  const m = {
    attempts: opts.metrics.counter('webhook_attempts_total', 'Webhook delivery attempts by outcome (delivered, failed)', ['outcome']),
    queued: opts.metrics.counter('webhook_events_queued_total', 'Webhook deliveries queued, by event', ['event']),
    disabled: opts.metrics.counter('webhook_disabled_total', 'Webhook subscriptions disabled after their run of failures'),
    pending: opts.metrics.gaugeReading(
      'webhook_deliveries_pending',
      'Webhook deliveries not yet delivered',
      () => (db.prepare("SELECT count(*) AS n FROM webhook_deliveries WHERE state = 'pending'").get() as { n: number }).n,
    ),
  }
  void m.pending
  const subscribers = db.prepare('SELECT id, events FROM webhooks')
  const insert =
    db.prepare(`INSERT OR IGNORE INTO webhook_deliveries (id, webhook_id, event_id, event, ordering_key, body, state, next_at, created_at)
    VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)`)
  // Due, of an enabled subscription, and first of its ordering key still pending.
  const due = db.prepare(`SELECT d.* FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
    WHERE d.state = 'pending' AND d.next_at <= ? AND w.enabled = 1
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.webhook_id = d.webhook_id AND e.ordering_key = d.ordering_key AND e.state = 'pending' AND e.n < d.n)
    ORDER BY d.n LIMIT 100`)
  const delivered = db.prepare(
    "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, delivered_at = ?, last_status = ?, last_error = NULL WHERE n = ?",
  )
  const failed = db.prepare(
    'UPDATE webhook_deliveries SET attempts = attempts + 1, next_at = ?, last_status = ?, last_error = ? WHERE n = ?',
  )
  const okHook = db.prepare('UPDATE webhooks SET consecutive_failures = 0 WHERE id = ?')
  const badHook = db.prepare(
    'UPDATE webhooks SET consecutive_failures = consecutive_failures + 1 WHERE id = ? RETURNING consecutive_failures AS n, enabled',
  )
  const disable = db.prepare('UPDATE webhooks SET enabled = 0, disabled_at = ?, disabled_reason = ?, updated_at = ? WHERE id = ?')

  function enqueueInTx(e: OutgoingEvent): void {
    const body = eventBody(e)
    for (const s of subscribers.all() as Array<{ id: string; events: string }>) {
      if (!(JSON.parse(s.events) as WebhookEvent[]).includes(e.type)) continue
      const r = insert.run(`d${randomBytes(8).toString('hex')}`, s.id, e.id, e.type, e.orderingKey, body, now(), now())
      if (r.changes > 0) m.queued.inc({ event: e.type })
    }
  }

  /** The wait before attempt `attempts + 1`: doubling from backoffBaseMs, capped, minus up to half as jitter. */
  function backoff(attempts: number): number {
    const full = Math.min(cfg.backoffMaxMs, cfg.backoffBaseMs * 2 ** Math.min(attempts, 30))
    return Math.round(full * (1 - random() / 2))
  }

  async function attempt(d: DeliveryRow): Promise<boolean> {
    const secret = registry.secretOf(d.webhook_id)
    const hook = registry.get(d.webhook_id)
    if (!secret || !hook) return false
    let status: number | null = null
    let error: string | null = null
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(cfg.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'ioc-gateway-webhooks',
          'x-ioc-event': d.event,
          'x-ioc-delivery': d.event_id,
          'x-ioc-signature': signature(secret, Math.floor(now() / 1000), d.body),
        },
        body: d.body,
      })
      status = res.status
      await res.body?.cancel().catch(() => undefined)
      if (res.status >= 200 && res.status < 300) {
        db.transaction(() => {
          delivered.run(now(), status, d.n)
          okHook.run(d.webhook_id)
        })()
        m.attempts.inc({ outcome: 'delivered' })
        return true
      }
      error = `HTTP ${res.status}`
    } catch (err) {
      error =
        (err as Error).name === 'TimeoutError'
          ? `no answer in ${cfg.timeoutMs} ms`
          : ((err as Error & { cause?: Error }).cause?.message ?? (err as Error).message)
    }
    m.attempts.inc({ outcome: 'failed' })
    let disabledNow = false
    db.transaction(() => {
      failed.run(now() + backoff(d.attempts), status, error, d.n)
      const r = badHook.get(d.webhook_id) as { n: number; enabled: number } | undefined
      if (r && r.enabled === 1 && r.n >= cfg.maxConsecutiveFailures) {
        const at = new Date(now()).toISOString()
        disable.run(at, `${r.n} failed deliveries in a row (last: ${error})`, at, d.webhook_id)
        m.disabled.inc()
        log.error({ webhook: d.webhook_id, url: hook.url, failures: r.n }, 'webhook subscription disabled after its run of failures')
        disabledNow = true
      }
    })()
    if (disabledNow) {
      try {
        opts.onDisabled?.(registry.get(d.webhook_id)!)
      } catch (err) {
        log.error({ err }, 'webhook disabled notice failed')
      }
    }
    log.warn({ webhook: d.webhook_id, delivery: d.id, event: d.event, error }, 'webhook delivery failed; will retry')
    return false
  }

  let running: Promise<number> | null = null
  let again = false
  let closed = false
  async function run(): Promise<number> {
    let total = 0
    do {
      again = false
      const rows = due.all(now()) as DeliveryRow[]
      // A subscription that failed once in this pass is not tried again in it (its receiver is down).
      const down = new Set<string>()
      for (const d of rows) {
        if (closed) return total
        if (down.has(d.webhook_id)) continue
        total++
        if (!(await attempt(d))) down.add(d.webhook_id)
        else again = true // the next of its ordering key may be due now
      }
    } while (again && !closed)
    return total
  }
  function kick(): void {
    if (closed) return
    if (running) {
      again = true
      return
    }
    running = run()
      .catch((err: unknown) => {
        log.error({ err }, 'webhook sender failed')
        return 0
      })
      .finally(() => (running = null))
  }
  let timer: NodeJS.Timeout | undefined

  return {
    registry,
    routeInTx(change) {
      const e = alertEvent(change)
      if (e) enqueueInTx(e)
    },
    enqueue(e) {
      db.transaction(() => enqueueInTx(e))()
      kick()
    },
    kick,
    async drain() {
      let n = 0
      if (running) n += await running
      do {
        const r = (running = run().finally(() => (running = null)))
        const k = await r
        n += k
        if (k === 0) break
      } while ((due.all(now()) as DeliveryRow[]).length > 0)
      return n
    },
    start() {
      timer ??= setInterval(kick, cfg.pollMs)
      timer.unref()
      kick()
    },
    async close() {
      closed = true
      if (timer) clearInterval(timer)
      await running?.catch(() => undefined)
    },
  }
}
