import { createServer, type Server } from 'node:http'
import type pg from 'pg'
import { pino, type Logger } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openAlertsDb } from '../../gateway/alerts/db.ts'
import { openAlertStore } from '../../gateway/alerts/open-store.ts'
import type { AlertStore } from '../../gateway/alerts/store.ts'
import type { AlertChange } from '../../gateway/alerts/types.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { migratePg } from '../../gateway/pg/migrate.ts'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { webhookClaimMs } from '../../gateway/webhooks/config.ts'
import { createWebhooks, type Webhooks } from '../../gateway/webhooks/index.ts'
import { WEBHOOKS_PG_MIGRATIONS, WEBHOOKS_PG_MIGRATIONS_TABLE } from '../../gateway/webhooks/postgres/migrations.ts'
import { openPostgresWebhookStore } from '../../gateway/webhooks/postgres/store.ts'
import { signature, verifySignature } from '../../gateway/webhooks/signing.ts'
import { alertsDbWebhooks, sqliteWebhookStore } from '../../gateway/webhooks/sqlite-store.ts'
import type { WebhookStore } from '../../gateway/webhooks/store.ts'
import { requirePostgres, usePostgres } from '../support/postgres.ts'
import { tempDir } from '../support/services.ts'
import { event, T0, webhookStoreContract } from './store-contract.ts'

// Webhooks in PostgreSQL (docs/operations.md "Webhooks across nodes"): the same contract as
// alerts.db's, on a real PostgreSQL 15; and what several nodes sharing them need: a subscription
// made through one node told of another node's changes, each delivery claimed by one node, a lapsed
// claim taken over, one key one at a time in order across nodes, a subscription disabled once, the
// migrations applied once by nodes starting together, and the first node's own alerts.db copied in once.

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
  /**
   * One node on the database at `url`: its own pool and data directory, as a process has; `dataDir`
   * (a single node's, kept by the caller) when its alerts.db is to be the seed.
   */
  async function node(
    url: string,
    nodeId: string,
    claimMs = CLAIM_MS,
    now: () => number = () => T0,
    own: { dataDir?: string; logger?: Logger } = {},
  ): Promise<Node> {
    const pool = openPgPool(url, { logger, max: 4 })
    const dir = tempDir()
    const store = await openPostgresWebhookStore(pool, {
      nodeId,
      claimMs,
      now,
      logger: own.logger ?? logger,
      seed: () => alertsDbWebhooks(own.dataDir ?? dir.path),
    })
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

  describe("a single node's alerts.db at the first start of a cluster", () => {
    interface Alone {
      dir: string
      hook: string
      secret: string
      remove(): void
    }
    /**
     * A data directory as a gateway running alone left it: a subscription (its secret given) with
     * two deliveries of one key and one of another still pending, one delivered, and a second
     * subscription an admin disabled.
     */
    async function alone(tag: string): Promise<Alone> {
      const dir = tempDir()
      const shared = openAlertsDb(dir.path)
      try {
        const s = sqliteWebhookStore(shared.db, () => T0)
        const { webhook, secret } = await s.create({
          url: `http://127.0.0.1:9/${tag}`,
          events: ['device.offline'],
          description: tag,
          secret: `whsec_${tag}_0123456789abcdef`,
        })
        const off = await s.create({ url: `http://127.0.0.1:9/${tag}-off`, events: ['report.ready'] })
        await s.update(off.webhook.id, { enabled: false })
        for (const [id, key] of [
          ['sent', 'device:y'],
          [`${tag}-1`, 'device:x'],
          [`${tag}-2`, 'device:x'],
          [`${tag}-3`, 'device:z'],
        ] as const)
          await s.queue(event(id, key))
        const [sent] = (await s.claimDue(T0, 10)).filter((d) => d.event_id === 'sent')
        await s.delivered(sent!, T0, 204)
        return { dir: dir.path, hook: webhook.id, secret, remove: () => dir.remove() }
      } finally {
        shared.release()
      }
    }
    /** What alerts.db answers through its own store, to compare PostgreSQL's with. */
    async function inAlertsDb(a: Alone) {
      const shared = openAlertsDb(a.dir)
      try {
        const s = sqliteWebhookStore(shared.db, () => T0)
        const pending = (await s.deliveries(a.hook, { limit: 10 })).items.filter((d) => d.state === 'pending')
        return { webhooks: await s.list(), pending }
      } finally {
        shared.release()
      }
    }
    const seeded = async (n: Node) =>
      (await n.pool.query<{ node: string; webhooks: number; deliveries: number }>('SELECT node, webhooks, deliveries FROM webhooks_seeded'))
        .rows

    it('copies its subscriptions (ids, secrets, state) and pending deliveries (ids, keys, order) once; one info line, no secret', async () => {
      const a = await alone('a')
      const lines: string[] = []
      const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) })
      const n = await node(await server.createDatabase(), 'node-a', CLAIM_MS, () => T0, { dataDir: a.dir, logger: log })
      try {
        const before = await inAlertsDb(a)
        // Both states and the disabled fields are in what is compared.
        expect(before.webhooks.find((w) => !w.enabled)).toMatchObject({
          disabled_at: new Date(T0).toISOString(),
          disabled_reason: expect.any(String),
        })
        expect(await n.store.list()).toEqual(before.webhooks)
        expect((await n.store.deliveries(a.hook, { limit: 10 })).items).toEqual(before.pending)
        expect(before.pending.map((d) => d.key).sort()).toEqual(['a-1', 'a-2', 'a-3'])
        expect(await seeded(n)).toEqual([{ node: 'node-a', webhooks: 2, deliveries: 3 }])
        // Sent as before the switch: in order per key (a-2 waits for a-1), signed with the secret the receiver holds.
        const due = await n.store.claimDue(T0, 10)
        expect(due.map((d) => d.event_id)).toEqual(['a-1', 'a-3'])
        const t = Math.floor(T0 / 1000)
        for (const d of due) expect(verifySignature(a.secret, signature(d.secret, t, d.body), d.body, t)).toBe(true)
        const info = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => /seeded/.test(String(l.msg)))
        expect(info).toMatchObject([{ level: 30, webhooks: 2, deliveries: 3 }])
        expect(lines.join('')).not.toContain(a.secret)
      } finally {
        await n.close()
        a.remove()
      }
    })

    it("a second node's own subscriptions are not copied, and an emptied table is not filled again", async () => {
      const [a, b] = [await alone('a'), await alone('b')]
      const url = await server.createDatabase()
      const na = await node(url, 'node-a', CLAIM_MS, () => T0, { dataDir: a.dir })
      try {
        const first = await na.store.list()
        const nb = await node(url, 'node-b', CLAIM_MS, () => T0, { dataDir: b.dir })
        expect(await nb.store.list()).toEqual(first)
        expect(await nb.store.pendingCount()).toBe(3)
        for (const w of first) await na.store.remove(w.id)
        await nb.close()
        const again = await node(url, 'node-b', CLAIM_MS, () => T0, { dataDir: b.dir })
        expect(await again.store.list()).toEqual([])
        expect(await seeded(again)).toEqual([{ node: 'node-a', webhooks: 2, deliveries: 3 }])
        await again.close()
      } finally {
        await na.close()
        a.remove()
        b.remove()
      }
    })

    it('nodes starting together copy one node, once', async () => {
      const own = await Promise.all(['a', 'b', 'c'].map(alone))
      const url = await server.createDatabase()
      const nodes = await Promise.all(own.map((o, i) => node(url, `node-${i}`, CLAIM_MS, () => T0, { dataDir: o.dir })))
      try {
        const rows = await seeded(nodes[0]!)
        expect(rows).toHaveLength(1)
        const seeder = Number(rows[0]!.node.slice('node-'.length))
        expect(await nodes[0]!.store.list()).toEqual((await inAlertsDb(own[seeder]!)).webhooks)
        expect(await nodes[0]!.store.pendingCount()).toBe(3)
      } finally {
        await Promise.all(nodes.map((n) => n.close()))
        for (const o of own) o.remove()
      }
    })

    it('an empty alerts.db records nothing: the node that ran alone, started after it, still copies', async () => {
      const url = await server.createDatabase()
      const empty = await node(url, 'node-a')
      const b = await alone('b')
      try {
        expect(await seeded(empty)).toEqual([])
        const nb = await node(url, 'node-b', CLAIM_MS, () => T0, { dataDir: b.dir })
        expect(await nb.store.list()).toEqual((await inAlertsDb(b)).webhooks)
        expect(await seeded(nb)).toEqual([{ node: 'node-b', webhooks: 2, deliveries: 3 }])
        await nb.close()
      } finally {
        await empty.close()
        b.remove()
      }
    })

    it('tables in use before a node with subscriptions of its own started get none of them, recorded as (in use)', async () => {
      const url = await server.createDatabase()
      const empty = await node(url, 'node-a')
      const b = await alone('b')
      try {
        const made = await empty.store.create({ url: 'http://127.0.0.1:9/made', events: ['device.offline'] })
        const nb = await node(url, 'node-b', CLAIM_MS, () => T0, { dataDir: b.dir })
        expect((await nb.store.list()).map((w) => w.id)).toEqual([made.webhook.id])
        expect(await seeded(nb)).toEqual([{ node: '(in use)', webhooks: 0, deliveries: 0 }])
        await nb.close()
      } finally {
        await empty.close()
        b.remove()
      }
    })

    it('a cluster that used the tables before seeding existed is not seeded over the subscriptions it made', async () => {
      const url = await server.createDatabase()
      const pool = openPgPool(url, { logger, max: 1 })
      const a = await alone('a')
      try {
        await migratePg(pool, WEBHOOKS_PG_MIGRATIONS.slice(0, 1), WEBHOOKS_PG_MIGRATIONS_TABLE)
        await pool.query(
          "INSERT INTO webhooks (id, url, events, secret, created_at, updated_at) VALUES ('whmade', 'http://x/', '[]', 's', 't', 't')",
        )
        const n = await node(url, 'node-a', CLAIM_MS, () => T0, { dataDir: a.dir })
        expect((await n.store.list()).map((w) => w.id)).toEqual(['whmade'])
        expect(await seeded(n)).toEqual([{ node: '(in use before version 2)', webhooks: 0, deliveries: 0 }])
        await n.close()
      } finally {
        await pool.end()
        a.remove()
      }
    })
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
