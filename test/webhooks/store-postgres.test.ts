import { createServer, type Server } from 'node:http'
import type pg from 'pg'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openAlertStore } from '../../gateway/alerts/open-store.ts'
import type { AlertStore } from '../../gateway/alerts/store.ts'
import type { AlertChange } from '../../gateway/alerts/types.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { webhookClaimMs } from '../../gateway/webhooks/config.ts'
import { createWebhooks, type Webhooks } from '../../gateway/webhooks/index.ts'
import { WEBHOOKS_PG_MIGRATIONS } from '../../gateway/webhooks/postgres/migrations.ts'
import { openPostgresWebhookStore } from '../../gateway/webhooks/postgres/store.ts'
import type { WebhookStore } from '../../gateway/webhooks/store.ts'
import { requirePostgres, usePostgres } from '../support/postgres.ts'
import { tempDir } from '../support/services.ts'
import { event, T0, webhookStoreContract } from './store-contract.ts'

// Webhooks in PostgreSQL (docs/operations.md "Webhooks across nodes"): the same contract as
// alerts.db's, on a real PostgreSQL 15; and what several nodes sharing them need: a subscription
// made through one node told of another node's changes, each delivery claimed by one node, a lapsed
// claim taken over, one key one at a time in order across nodes, a subscription disabled once, and
// the migrations applied once by nodes starting together.

const logger = pino({ level: 'silent' })
const ok = requirePostgres()
const CLAIM_MS = 1000
const CONFIG = { maxConsecutiveFailures: 20, backoffBaseMs: 1000, backoffMaxMs: 1000, timeoutMs: 5000, pollMs: 1000 }

describe.skipIf(!ok)('webhooks in PostgreSQL', () => {
  const server = usePostgres()

  interface Node {
    pool: pg.Pool
    store: WebhookStore
    alerts: AlertStore
    close(): Promise<void>
  }
  /** One node on the database at `url`: its own pool and data directory, as a process has. */
  async function node(url: string, nodeId: string, claimMs = CLAIM_MS, now: () => number = () => T0): Promise<Node> {
    const pool = openPgPool(url, { logger, max: 4 })
    const dir = tempDir()
    const store = await openPostgresWebhookStore(pool, { nodeId, claimMs, now })
    const alerts = await openAlertStore({ dataDir: dir.path, pool })
    return {
      pool,
      store,
      alerts,
      async close() {
        await alerts.close()
        await pool.end()
        dir.remove()
      },
    }
  }

  webhookStoreContract('PostgreSQL', async (now) => {
    const n = await node(await server.createDatabase(), 'node-a', CLAIM_MS, now)
    return { ...n, dispose: n.close }
  })

  /** Two nodes on one database, started together. */
  async function twoNodes(claimMs = CLAIM_MS, now: () => number = () => T0): Promise<[Node, Node]> {
    const url = await server.createDatabase()
    const [a, b] = await Promise.all(['node-a', 'node-b'].map((id) => node(url, id, claimMs, now)))
    return [a!, b!]
  }

  it('applies its migrations once when nodes start together', async () => {
    const [a, b] = await twoNodes()
    try {
      const v = await a.pool.query<{ version: number }>('SELECT version FROM webhooks_schema_migrations ORDER BY version')
      expect(v.rows.map((r) => r.version)).toEqual(WEBHOOKS_PG_MIGRATIONS.map((m) => m.version))
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('a delivery claimed by a node that died is taken by the other once the claim lapsed, not before; the next of its key waits for it', async () => {
    const [a, b] = await twoNodes()
    try {
      await a.store.create({ url: 'http://127.0.0.1:9/hook', events: ['device.offline'] })
      await a.store.queue(event('x1'))
      await b.store.queue(event('x2'))
      const [held] = await a.store.claimDue(T0, 10)
      expect(held?.event_id).toBe('x1')
      expect(await a.store.startAttempt(held!.n, T0)).toBe(true)
      // Node a is killed mid-request: its claim (renewed at the attempt) stays until it lapses.
      expect(await b.store.claimDue(T0 + CLAIM_MS, 10)).toEqual([])
      expect(await b.store.anyDue(T0 + CLAIM_MS)).toBe(false)
      const [taken] = await b.store.claimDue(T0 + CLAIM_MS + 1, 10)
      expect(taken?.event_id).toBe('x1')
      // Had a only stalled, it may neither start again nor record over b's claim.
      expect(await a.store.startAttempt(held!.n, T0 + CLAIM_MS + 2)).toBe(false)
      expect(await a.store.failed(held!, { at: T0, nextAt: T0 + 60_000, status: null, error: 'late', maxFailures: 1 })).toBeUndefined()
      expect(await b.store.startAttempt(taken!.n, T0 + CLAIM_MS + 2)).toBe(true)
      await b.store.delivered(taken!, T0 + CLAIM_MS + 3, 204)
      expect((await a.store.claimDue(T0 + CLAIM_MS + 4, 10)).map((d) => d.event_id)).toEqual(['x2'])
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('disables a subscription once when two nodes fail its deliveries at the same time', async () => {
    const [a, b] = await twoNodes()
    try {
      const { webhook } = await a.store.create({ url: 'http://127.0.0.1:9/hook', events: ['device.offline'] })
      await a.store.queue(event('x1', 'device:x'))
      await a.store.queue(event('y1', 'device:y'))
      const [da] = await a.store.claimDue(T0, 1)
      const [db] = await b.store.claimDue(T0, 1)
      expect(new Set([da?.event_id, db?.event_id])).toEqual(new Set(['x1', 'y1']))
      // Both failures reach the limit: the one counted second finds the subscription disabled already.
      const f = { at: T0, nextAt: T0 + 1000, status: 500, error: 'HTTP 500', maxFailures: 1 }
      const answers = await Promise.all([a.store.failed(da!, f), b.store.failed(db!, f)])
      expect(answers.filter((w) => w !== undefined).map((w) => w!.id)).toEqual([webhook.id])
      expect(await a.store.get(webhook.id)).toMatchObject({ enabled: false, consecutive_failures: 2 })
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  describe('two senders', () => {
    interface Got {
      key: string
      order: number
    }
    let rx: Server
    let port = 0
    const got: Got[] = []
    const inFlight = new Map<string, number>()
    let overlaps = 0
    beforeAll(async () => {
      // Holds each request a moment, so a second sender of the same ordering key would overlap it.
      rx = createServer((req, res) => {
        const key = String(req.headers['x-ioc-delivery'])
        const order = key.split('.')
        const k = order[0]!
        const n = (inFlight.get(k) ?? 0) + 1
        inFlight.set(k, n)
        if (n > 1) overlaps++
        req.resume()
        setTimeout(() => {
          inFlight.set(k, (inFlight.get(k) ?? 1) - 1)
          got.push({ key: k, order: Number(order[1]) })
          res.writeHead(204).end()
        }, 10)
      })
      await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r))
      port = (rx.address() as { port: number }).port
    })
    afterAll(async () => {
      rx.closeAllConnections()
      await new Promise<void>((r) => rx.close(() => r()))
    })

    const sender = (store: WebhookStore): Webhooks =>
      createWebhooks({ store, logger, metrics: new Metrics({ defaults: false }), config: CONFIG, random: () => 0 })

    it("a subscription made through node A is told of node B's alert change", async () => {
      got.length = 0
      const [a, b] = await twoNodes(webhookClaimMs(CONFIG), Date.now)
      const [ha, hb] = [sender(a.store), sender(b.store)]
      try {
        await ha.registry.create({ url: `http://127.0.0.1:${port}/hook`, events: ['alert.opened'] })
        const change: AlertChange = {
          alert: {
            id: 'alert-b',
            rule: 'wl',
            kind: 'water_level',
            severity: 'major',
            station: 'kim-long',
            state: 'open',
            title: 'Kim Long',
            late: false,
            opened_at: new Date(T0).toISOString(),
            updated_at: new Date(T0).toISOString(),
            tier: 1,
            history: [],
          },
          change: { seq: 1, at: new Date(T0).toISOString(), action: 'opened', severity: 'major', state: 'open', by: 'system' },
        }
        await b.alerts.transaction((tx) => hb.routeInTx(change, tx))
        // Either node may send it; each once.
        expect((await Promise.all([ha.drain(), hb.drain()])).reduce((x, y) => x + y)).toBe(1)
        expect(got).toEqual([{ key: 'alert-b', order: 1 }])
      } finally {
        await Promise.all([ha.close(), hb.close()])
        await Promise.all([a.close(), b.close()])
      }
    }, 60_000)

    it('send each delivery once, one at a time per ordering key and in order, while both drain the same deliveries', async () => {
      got.length = 0
      overlaps = 0
      const [a, b] = await twoNodes(webhookClaimMs(CONFIG), Date.now)
      const [ha, hb] = [sender(a.store), sender(b.store)]
      try {
        await ha.registry.create({ url: `http://127.0.0.1:${port}/hook`, events: ['device.offline'] })
        // Three keys of six events each, queued through both nodes in turn (ids `<key>.<order>`).
        for (let i = 1; i <= 6; i++)
          for (const k of ['k1', 'k2', 'k3']) await (i % 2 ? ha : hb).enqueue({ ...event(`${k}.${i}`, `device:${k}`) })
        // Every enqueue kicked its node's sender: both work on them at once.
        while ((await a.store.pendingCount()) > 0) await Promise.all([ha.drain(), hb.drain()])
        expect(overlaps).toBe(0)
        expect(got).toHaveLength(18)
        for (const k of ['k1', 'k2', 'k3']) expect(got.filter((g) => g.key === k).map((g) => g.order)).toEqual([1, 2, 3, 4, 5, 6])
      } finally {
        await Promise.all([ha.close(), hb.close()])
        await Promise.all([a.close(), b.close()])
      }
    }, 60_000)
  })
})
