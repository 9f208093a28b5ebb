import type pg from 'pg'
import type { Logger } from '../../log/logger.ts'
import { migratePg } from '../../pg/migrate.ts'
import { seedOnce } from '../../pg/seed-once.ts'
import { inTransaction } from '../../pg/transaction.ts'
import { eventBody, type OutgoingEvent } from '../events.ts'
import { deliveryPage, failuresReason, newDeliveryId, newWebhookRow, toDelivery, toWebhook } from '../registry.ts'
import type { DeliveryRow, HookRow } from '../registry.ts'
import type { OwnWebhooks } from '../sqlite-store.ts'
import type { ClaimedDelivery, WebhookStore } from '../store.ts'
import { WEBHOOKS_PG_MIGRATIONS, WEBHOOKS_PG_MIGRATIONS_TABLE } from './migrations.ts'

// Subscriptions and deliveries in PostgreSQL, shared by every node of a cluster (docs/operations.md
// "Webhooks across nodes"); ../store.ts has the contract. The deliveries of an alert change are
// written on the alert transaction's own connection, so the change and its deliveries commit once,
// together, whichever node made it. Each node reads the subscriptions from the table when it needs
// them (in the alert transaction, in the claim) rather than keeping a copy, so a subscription made
// through one node is told of the next change any node makes, with nothing to follow. A sender
// claims due deliveries with FOR UPDATE SKIP LOCKED (two nodes never claim the same one) for
// `claimMs`; a claim that lapses (its node was killed, or stalled) is taken over by another node.

type Db = Pick<pg.Pool | pg.PoolClient, 'query'>

/** BIGINT columns come back as text (node-postgres keeps 64-bit exact); these fit a double. */
type PgDelivery = Omit<DeliveryRow, 'n' | 'next_at' | 'created_at' | 'delivered_at'> & {
  n: string
  next_at: string
  created_at: string
  delivered_at: string | null
  claimed_by?: unknown
  claimed_until?: unknown
}
type PgHook = Omit<HookRow, 'enabled'> & { enabled: boolean }

const toRow = ({ claimed_by: _b, claimed_until: _u, ...r }: PgDelivery): DeliveryRow => ({
  ...r,
  n: Number(r.n),
  next_at: Number(r.next_at),
  created_at: Number(r.created_at),
  delivered_at: r.delivered_at === null ? null : Number(r.delivered_at),
})
const hook = (r: PgHook) => toWebhook({ ...r, enabled: r.enabled ? 1 : 0 })

/**
 * Due, of an enabled subscription, not held by a live claim, and first of its ordering key still
 * pending: while a node sends delivery n of a key, n is pending and claimed, so no node takes n+1.
 */
const DUE = `FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
  WHERE d.state = 'pending' AND d.next_at <= $1 AND w.enabled AND (d.claimed_until IS NULL OR d.claimed_until < $1)
    AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
      WHERE e.webhook_id = d.webhook_id AND e.ordering_key = d.ordering_key AND e.state = 'pending' AND e.n < d.n)`

async function queueOn(db: Db, e: OutgoingEvent, at: number): Promise<number> {
  // FOR KEY SHARE: a subscription deleted by another node meanwhile waits for this transaction,
  // instead of failing the alert change on the deliveries' foreign key.
  const subs = await db.query<{ id: string }>('SELECT id FROM webhooks WHERE events::jsonb ? $1 ORDER BY id FOR KEY SHARE', [e.type])
  if (subs.rows.length === 0) return 0
  const res = await db.query(
    `INSERT INTO webhook_deliveries (id, webhook_id, event_id, event, ordering_key, body, state, next_at, created_at)
     SELECT t.id, t.hook, $3, $4, $5, $6, 'pending', $7, $7 FROM unnest($1::text[], $2::text[]) AS t(id, hook)
     ON CONFLICT (webhook_id, event_id) DO NOTHING`,
    [subs.rows.map(() => newDeliveryId()), subs.rows.map((s) => s.id), e.id, e.type, e.orderingKey, eventBody(e), at],
  )
  return res.rowCount ?? 0
}

export interface PostgresWebhookStoreOptions {
  /** This node (server.nodeId): who holds a claim. */
  nodeId: string
  /** How long a claim lasts: longer than a request may take (webhookClaimMs). */
  claimMs: number
  now?: (() => number) | undefined
  logger: Logger
  /** This node's own webhooks (alerts.db), copied in when no node has seeded the tables yet. */
  seed: () => OwnWebhooks
}

const HOOK_COLUMNS =
  'id, url, events, secret, description, enabled, consecutive_failures, disabled_at, disabled_reason, created_at, updated_at'
const DELIVERY_COLUMNS =
  'id, webhook_id, event_id, event, ordering_key, body, state, attempts, next_at, created_at, delivered_at, last_status, last_error'

/**
 * Copies a node's own webhooks in as they are: ids, so the API's links and a receiver's records of
 * them still hold; secrets, so receivers verify with the one they were given; pending deliveries
 * with their ids and event ids (X-IOC-Delivery), so what was queued before the switch is sent, and a
 * receiver that already got an attempt de-duplicates it. Delivered ones stay behind: a log, not work.
 * One statement per table (a busy node may hold many pending); the deliveries are inserted in
 * their alerts.db order, so the numbers PostgreSQL gives them keep each ordering key's order.
 */
async function copyOwn(c: pg.PoolClient, own: OwnWebhooks): Promise<{ webhooks: number; deliveries: number }> {
  const hooks = await c.query(
    `INSERT INTO webhooks (${HOOK_COLUMNS}) SELECT ${HOOK_COLUMNS} FROM json_populate_recordset(NULL::webhooks, $1) ON CONFLICT DO NOTHING`,
    [JSON.stringify(own.webhooks.map((w) => ({ ...w, enabled: w.enabled === 1 })))],
  )
  const deliveries = await c.query(
    `INSERT INTO webhook_deliveries (${DELIVERY_COLUMNS})
     SELECT ${DELIVERY_COLUMNS} FROM json_populate_recordset(NULL::webhook_deliveries, $1) ORDER BY n ON CONFLICT DO NOTHING`,
    [JSON.stringify(own.pending)],
  )
  return { webhooks: hooks.rowCount ?? 0, deliveries: deliveries.rowCount ?? 0 }
}

/** Applies the webhooks' migrations and seeds (each once across nodes), then answers the store. The pool belongs to the caller. */
export async function openPostgresWebhookStore(pool: pg.Pool, opts: PostgresWebhookStoreOptions): Promise<WebhookStore> {
  await migratePg(pool, WEBHOOKS_PG_MIGRATIONS, WEBHOOKS_PG_MIGRATIONS_TABLE)
  const own = opts.seed()
  if (own.webhooks.length > 0 || own.pending.length > 0)
    await seedOnce(pool, {
      lock: 'iocgw:webhooks_seed',
      record: 'webhooks_seeded',
      counts: ['webhooks', 'deliveries'],
      nodeId: opts.nodeId,
      inUse: async (c) =>
        (await c.query<{ used: boolean }>('SELECT EXISTS (SELECT 1 FROM webhooks) OR EXISTS (SELECT 1 FROM webhook_deliveries) AS used'))
          .rows[0]!.used,
      copy: (c) => copyOwn(c, own),
      log: opts.logger.child({ component: 'webhooks' }),
      message: "webhook subscriptions and pending deliveries seeded into PostgreSQL from this node's alerts.db",
      source: "alerts.db's webhooks",
    })
  const me = opts.nodeId
  const now = opts.now ?? Date.now
  const get = async (id: string) => {
    const r = (await pool.query<PgHook>('SELECT * FROM webhooks WHERE id = $1', [id])).rows[0]
    return r ? hook(r) : undefined
  }

  return {
    backend: 'postgres',
    async list() {
      return (await pool.query<PgHook>('SELECT * FROM webhooks ORDER BY created_at COLLATE "C", id')).rows.map(hook)
    },
    get,
    async create(input) {
      const w = newWebhookRow(input, new Date(now()).toISOString())
      const r = await pool.query<PgHook>(
        'INSERT INTO webhooks (id, url, events, secret, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING *',
        [w.id, w.url, w.events, w.secret, w.description, w.at],
      )
      return { webhook: hook(r.rows[0]!), secret: w.secret }
    },
    async update(id, p) {
      if (p.url === undefined && p.events === undefined && p.description === undefined && p.enabled === undefined) return get(id)
      return inTransaction(pool, async (c) => {
        // enabled true: a fresh run of failures; false: disabled by an admin; absent: as it was.
        const r = await c.query<PgHook>(
          `UPDATE webhooks SET url = coalesce($2, url), events = coalesce($3, events), description = coalesce($4, description),
             enabled = coalesce($5, enabled),
             consecutive_failures = CASE WHEN $5 THEN 0 ELSE consecutive_failures END,
             disabled_at = CASE $5 WHEN TRUE THEN NULL WHEN FALSE THEN $6 ELSE disabled_at END,
             disabled_reason = CASE $5 WHEN TRUE THEN NULL WHEN FALSE THEN 'disabled by an admin' ELSE disabled_reason END,
             updated_at = $6
           WHERE id = $1 RETURNING *`,
          [
            id,
            p.url ?? null,
            p.events ? JSON.stringify(p.events) : null,
            p.description ?? null,
            p.enabled ?? null,
            new Date(now()).toISOString(),
          ],
        )
        // Enabled again: what waited is due now.
        if (r.rows[0] && p.enabled === true)
          await c.query("UPDATE webhook_deliveries SET next_at = $2 WHERE webhook_id = $1 AND state = 'pending'", [id, now()])
        return r.rows[0] ? hook(r.rows[0]) : undefined
      })
    },
    async remove(id) {
      return ((await pool.query('DELETE FROM webhooks WHERE id = $1', [id])).rowCount ?? 0) > 0
    },
    async deliveries(id, page) {
      const res = await pool.query<PgDelivery>(
        'SELECT * FROM webhook_deliveries WHERE webhook_id = $1 AND n < $2 ORDER BY n DESC LIMIT $3',
        [id, page.before ?? Number.MAX_SAFE_INTEGER, page.limit + 1],
      )
      return deliveryPage(res.rows.map(toRow), page.limit)
    },
    async redeliver(id, deliveryId) {
      const r = await pool.query<PgDelivery>(
        "UPDATE webhook_deliveries SET state = 'pending', next_at = $3 WHERE webhook_id = $1 AND id = $2 RETURNING *",
        [id, deliveryId, now()],
      )
      return r.rows[0] ? toDelivery(toRow(r.rows[0])) : undefined
    },
    async queueInTx(tx, e) {
      if (!tx.sql)
        throw new Error('webhooks: the deliveries are in PostgreSQL but the alert transaction is not (postgres.url is set for both)')
      return queueOn(tx.sql, e, now())
    },
    queue: (e) => inTransaction(pool, (c) => queueOn(c, e, now())),
    async claimDue(at, limit) {
      // SKIP LOCKED: a delivery another node is claiming right now is left to it, not waited for.
      const res = await pool.query<PgDelivery & { url: string; secret: string }>(
        `WITH c AS (
           UPDATE webhook_deliveries SET claimed_by = $2, claimed_until = $3
           WHERE n IN (SELECT d.n ${DUE} ORDER BY d.n LIMIT $4 FOR UPDATE OF d SKIP LOCKED)
           RETURNING *)
         SELECT c.*, w.url, w.secret FROM c JOIN webhooks w ON w.id = c.webhook_id ORDER BY c.n`,
        [at, me, at + opts.claimMs, limit],
      )
      return res.rows.map(({ url, secret, ...r }): ClaimedDelivery => ({ ...toRow(r), url, secret }))
    },
    async startAttempt(n, at) {
      // Only under this node's claim, which now covers the request: a node that took the delivery
      // over (this one's claim lapsed) holds it under its own id.
      const res = await pool.query(
        "UPDATE webhook_deliveries SET claimed_until = $3 WHERE n = $1 AND state = 'pending' AND claimed_by = $2",
        [n, me, at + opts.claimMs],
      )
      return res.rowCount === 1
    },
    async release(ns) {
      if (ns.length === 0) return
      await pool.query('UPDATE webhook_deliveries SET claimed_by = NULL, claimed_until = NULL WHERE n = ANY($1) AND claimed_by = $2', [
        [...ns],
        me,
      ])
    },
    async delivered(d, at, status) {
      await inTransaction(pool, async (c) => {
        await c.query(
          `UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, delivered_at = $2, last_status = $3, last_error = NULL,
             claimed_by = NULL, claimed_until = NULL WHERE n = $1`,
          [d.n, at, status],
        )
        await c.query('UPDATE webhooks SET consecutive_failures = 0 WHERE id = $1', [d.webhook_id])
      })
    },
    async failed(d, f) {
      return inTransaction(pool, async (c) => {
        // Recorded only under this node's claim: a node that took the delivery over records its own.
        const mine = await c.query(
          `UPDATE webhook_deliveries SET attempts = attempts + 1, next_at = $2, last_status = $3, last_error = $4,
             claimed_by = NULL, claimed_until = NULL WHERE n = $1 AND state = 'pending' AND claimed_by = $5`,
          [d.n, f.nextAt, f.status, f.error, me],
        )
        if (mine.rowCount !== 1) return undefined
        // The row lock taken here is held until COMMIT: another node's failure on the same
        // subscription counts after this one and finds it already disabled, so it is disabled once.
        const r = (
          await c.query<{ n: number; enabled: boolean }>(
            'UPDATE webhooks SET consecutive_failures = consecutive_failures + 1 WHERE id = $1 RETURNING consecutive_failures AS n, enabled',
            [d.webhook_id],
          )
        ).rows[0]
        if (!r || !r.enabled || r.n < f.maxFailures) return undefined
        const at = new Date(f.at).toISOString()
        const off = await c.query<PgHook>(
          'UPDATE webhooks SET enabled = FALSE, disabled_at = $2, disabled_reason = $3, updated_at = $2 WHERE id = $1 RETURNING *',
          [d.webhook_id, at, failuresReason(r.n, f.error)],
        )
        return off.rows[0] ? hook(off.rows[0]) : undefined
      })
    },
    async anyDue(at) {
      return ((await pool.query(`SELECT 1 ${DUE} LIMIT 1`, [at])).rowCount ?? 0) > 0
    },
    async pendingCount() {
      const r = await pool.query<{ n: string }>("SELECT count(*) AS n FROM webhook_deliveries WHERE state = 'pending'")
      return Number(r.rows[0]?.n ?? 0)
    },
  }
}
