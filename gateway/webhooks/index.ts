import type { Database as Db } from 'better-sqlite3'
import type { AlertTx } from '../alerts/store.ts'
import type { AlertChange } from '../alerts/types.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { WebhooksConfig } from './config.ts'
import { alertEvent, type OutgoingEvent } from './events.ts'
import type { Webhook } from './registry.ts'
import { sqliteWebhookStore } from './sqlite-store.ts'
import type { ClaimedDelivery, WebhookRegistry, WebhookStore } from './store.ts'
import { signature } from './signing.ts'

// The webhook sender (docs/webhooks.md). Deliveries are rows written in the same transaction as
// the alert change that causes them (routeInTx, as the notification outbox), so a committed change
// always has its deliveries and a rolled-back one has none: at-least-once without a window between
// the change and the queue. Each delivery is retried with exponential backoff and jitter until its
// receiver answers 2xx; deliveries of one alert (one ordering key) go one at a time, in order, so a
// receiver never sees change n+1 before change n. The rows are a store (store.ts): this gateway's
// alerts.db, or PostgreSQL shared by the nodes of a cluster (postgres/store.ts), where each
// delivery is claimed by one node (docs/operations.md "Webhooks across nodes").

export interface WebhooksOptions {
  /** alerts.db: the store when `store` is not given. */
  db?: Db | undefined
  /**
   * The store when it is not this gateway's alerts.db: PostgreSQL shared by the nodes of a cluster
   * (openPostgresWebhookStore), written in the alert store's PostgreSQL transactions.
   */
  store?: WebhookStore | undefined
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
  /** Inside the alert change's transaction, through `tx`: queues its event for every subscription asking for it. */
  routeInTx(change: AlertChange, tx: AlertTx): Promise<void>
  /** Queues an event in its own transaction (device offline, report ready), then sends what is due. */
  enqueue(event: OutgoingEvent): Promise<void>
  /** Sends what is due now (after a commit, and on the poll timer). */
  kick(): void
  /** Runs attempts until nothing is due now; answers how many deliveries were attempted. */
  drain(): Promise<number>
  start(): void
  close(): Promise<void>
}

export function createWebhooks(opts: WebhooksOptions): Webhooks {
  const { config: cfg } = opts
  const now = opts.now ?? Date.now
  const random = opts.random ?? Math.random
  const log = opts.logger.child({ component: 'webhooks' })
  if (!opts.store && !opts.db) throw new Error('webhooks: a store or alerts.db is needed')
  const store: WebhookStore = opts.store ?? sqliteWebhookStore(opts.db!, now)
  const m = {
    attempts: opts.metrics.counter('webhook_attempts_total', 'Webhook delivery attempts by outcome (delivered, failed)', ['outcome']),
    queued: opts.metrics.counter('webhook_events_queued_total', 'Webhook deliveries queued, by event', ['event']),
    disabled: opts.metrics.counter('webhook_disabled_total', 'Webhook subscriptions disabled after their run of failures'),
    // Set after each pass of the sender (as notify_outbox_pending), never read at scrape time: in a
    // cluster the count is a PostgreSQL query, which a synchronous gauge callback cannot await.
    pending: opts.metrics.gauge('webhook_deliveries_pending', 'Webhook deliveries not yet delivered'),
  }

  /** The wait before attempt `attempts + 1`: doubling from backoffBaseMs, capped, minus up to half as jitter. */
  function backoff(attempts: number): number {
    const full = Math.min(cfg.backoffMaxMs, cfg.backoffBaseMs * 2 ** Math.min(attempts, 30))
    return Math.round(full * (1 - random() / 2))
  }

  /** One attempt; answers whether the receiver took it (2xx). */
  async function attempt(d: ClaimedDelivery): Promise<boolean> {
    let status: number | null = null
    // Undefined after a 2xx; recording the outcome stays outside the try, so that a store failure is
    // not taken for the receiver's.
    let error: string | undefined
    try {
      const res = await fetch(d.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(cfg.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'ioc-gateway-webhooks',
          'x-ioc-event': d.event,
          'x-ioc-delivery': d.event_id,
          'x-ioc-signature': signature(d.secret, Math.floor(now() / 1000), d.body),
        },
        body: d.body,
      })
      status = res.status
      await res.body?.cancel().catch(() => undefined)
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`
    } catch (err) {
      error =
        (err as Error).name === 'TimeoutError'
          ? `no answer in ${cfg.timeoutMs} ms`
          : ((err as Error & { cause?: Error }).cause?.message ?? (err as Error).message)
    }
    if (error === undefined) {
      await store.delivered(d, now(), status!)
      m.attempts.inc({ outcome: 'delivered' })
      return true
    }
    m.attempts.inc({ outcome: 'failed' })
    const off = await store.failed(d, {
      at: now(),
      nextAt: now() + backoff(d.attempts),
      status,
      error,
      maxFailures: cfg.maxConsecutiveFailures,
    })
    if (off) {
      m.disabled.inc()
      log.error(
        { webhook: d.webhook_id, url: d.url, failures: off.consecutive_failures },
        'webhook subscription disabled after its run of failures',
      )
      try {
        opts.onDisabled?.(off)
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
      const rows = await store.claimDue(now(), 100)
      // A subscription that failed once in this pass is not tried again in it (its receiver is down).
      const down = new Set<string>()
      // Claimed but not attempted: handed back at the end of the pass, so that another node (or
      // this one's next pass) need not wait for the claim to lapse.
      const left: number[] = []
      try {
        for (const d of rows) {
          if (closed || down.has(d.webhook_id)) {
            left.push(d.n)
            continue
          }
          // Delivered or taken over meanwhile.
          if (!(await store.startAttempt(d.n, now()))) continue
          total++
          if (!(await attempt(d))) down.add(d.webhook_id)
          else again = true // the next of its ordering key may be due now
        }
      } finally {
        await store.release(left)
      }
    } while (again && !closed)
    m.pending.set(await store.pendingCount())
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
    registry: store,
    async routeInTx(change, tx) {
      const e = alertEvent(change)
      if (!e) return
      const n = await store.queueInTx(tx, e)
      if (n > 0) m.queued.inc({ event: e.type }, n)
    },
    async enqueue(e) {
      const n = await store.queue(e)
      if (n > 0) m.queued.inc({ event: e.type }, n)
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
      } while (await store.anyDue(now()))
      return n
    },
    start() {
      // The poll also finds what other nodes queued in a cluster, and claims that lapsed.
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
