import type pg from 'pg'
import { numbered } from '../../pg/placeholders.ts'
import { migratePg } from '../../pg/migrate.ts'
import { outboxPageWhere, type HeldGroup, type NewOutboxRow, type OutboxRow, type OutboxStore } from '../store.ts'
import { NOTIFY_PG_MIGRATIONS, NOTIFY_PG_MIGRATIONS_TABLE } from './migrations.ts'
import { inTransaction } from '../../pg/transaction.ts'

// The outbox in PostgreSQL, shared by every node of a cluster (docs/operations.md "Notifications
// across nodes"); ../store.ts has the contract. Rows an alert change causes are written on the
// alert transaction's own connection, so the change and its messages commit once, together. A
// sender claims due rows with FOR UPDATE SKIP LOCKED (two nodes never claim the same row) for
// `claimMs`; a claim that lapses (its node was killed, or stalled) is taken over by another node.

type Db = Pick<pg.Pool | pg.PoolClient, 'query'>

/** BIGINT columns come back as text (node-postgres keeps 64-bit exact); epoch ms fit a double. */
type PgRow = Omit<OutboxRow, 'next_at' | 'created_at' | 'sent_at'> & { next_at: string; created_at: string; sent_at: string | null }

const toRow = ({ claimed_by: _b, claimed_until: _u, ...r }: PgRow & { claimed_by?: unknown; claimed_until?: unknown }): OutboxRow => ({
  ...r,
  next_at: Number(r.next_at),
  created_at: Number(r.created_at),
  sent_at: r.sent_at === null ? null : Number(r.sent_at),
})

const byId = (a: OutboxRow, b: OutboxRow) => a.id - b.id

const INSERT = `INSERT INTO notify_outbox (key, alert_id, change_seq, contact_id, channel, severity, message, state, next_at, created_at,
  last_error, claimed_by, claimed_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (key) DO NOTHING`

async function insertAll(db: Db, rows: readonly NewOutboxRow[], claim?: { by: string; until: number }): Promise<number> {
  let n = 0
  for (const r of rows) {
    const res = await db.query(INSERT, [
      r.key,
      r.alert_id,
      r.change_seq,
      r.contact_id,
      r.channel,
      r.severity,
      r.message,
      r.state,
      r.next_at,
      r.created_at,
      r.last_error,
      claim?.by ?? null,
      claim?.until ?? null,
    ])
    n += res.rowCount ?? 0
  }
  return n
}

export interface PostgresOutboxOptions {
  /** This node (server.nodeId): who holds a claim. */
  nodeId: string
  /** How long a claim lasts (notify.claimMs); longer than a provider request may take (notify.timeoutMs). */
  claimMs: number
}

/** Applies notify's migrations (once across nodes), then answers the store. The pool belongs to the caller. */
export async function openPostgresOutbox(pool: pg.Pool, opts: PostgresOutboxOptions): Promise<OutboxStore> {
  await migratePg(pool, NOTIFY_PG_MIGRATIONS, NOTIFY_PG_MIGRATIONS_TABLE)
  const me = opts.nodeId

  const count = async (sql: string, args: unknown[]) => Number((await pool.query<{ n: string }>(sql, args)).rows[0]?.n ?? 0)

  return {
    backend: 'postgres',
    async insertInTx(tx, rows) {
      if (rows.length === 0) return
      if (!tx.sql) throw new Error('notify: the outbox is in PostgreSQL but the alert transaction is not (postgres.url is set for both)')
      await insertAll(tx.sql, rows)
    },
    insert: (rows, o) =>
      inTransaction(pool, (c) => insertAll(c, rows, o?.claimed ? { by: me, until: Date.now() + opts.claimMs } : undefined)),
    async claimDue(now, limit) {
      // SKIP LOCKED: a row another node is claiming right now is left to it, not waited for.
      const res = await pool.query<PgRow>(
        `UPDATE notify_outbox SET claimed_by = $1, claimed_until = $2
         WHERE id IN (SELECT id FROM notify_outbox
           WHERE state IN ('pending', 'deferred') AND next_at <= $3 AND (claimed_until IS NULL OR claimed_until < $3)
           ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)
         RETURNING *`,
        [me, now + opts.claimMs, now, limit],
      )
      return res.rows.map(toRow).sort(byId)
    },
    async abandoned(now, startup) {
      const res = await pool.query<{ id: number; channel: OutboxRow['channel'] }>(
        `UPDATE notify_outbox SET claimed_by = $1, claimed_until = $2
         WHERE id IN (SELECT id FROM notify_outbox
           WHERE state = 'sending' AND (claimed_until < $3 OR ($4 AND claimed_by = $1))
           ORDER BY id FOR UPDATE SKIP LOCKED)
         RETURNING id, channel`,
        [me, now + opts.claimMs, now, startup],
      )
      return res.rows.sort((a, b) => a.id - b.id)
    },
    async byKey(key) {
      const r = (await pool.query<PgRow>('SELECT * FROM notify_outbox WHERE key = $1', [key])).rows[0]
      return r ? toRow(r) : undefined
    },
    async present(keys) {
      if (keys.length === 0) return new Set()
      const res = await pool.query<{ key: string }>('SELECT key FROM notify_outbox WHERE key = ANY($1)', [keys])
      return new Set(res.rows.map((r) => r.key))
    },
    async setState(id, state, nextAt, note) {
      // Not over another node's claim: a node that stalled past its own would otherwise undo the
      // work of the node that took the row over (e.g. make a row in `sending` due again).
      await pool.query(
        `UPDATE notify_outbox SET state = $2, next_at = $3, last_error = $4, claimed_by = NULL, claimed_until = NULL
         WHERE id = $1 AND (claimed_by IS NULL OR claimed_by = $5)`,
        [id, state, nextAt, note, me],
      )
    },
    async markSending(id, now) {
      // Only under this node's live claim, which now covers the request (claimMs > timeoutMs).
      const res = await pool.query(
        `UPDATE notify_outbox SET state = 'sending', attempts = attempts + 1, claimed_until = $3
         WHERE id = $1 AND state IN ('pending', 'deferred') AND claimed_by = $2 AND claimed_until >= $4`,
        [id, me, now + opts.claimMs, now],
      )
      return res.rowCount === 1
    },
    async markSent(id, at, providerId) {
      await pool.query(
        "UPDATE notify_outbox SET state = 'sent', sent_at = $2, provider_id = $3, last_error = NULL, claimed_by = NULL, claimed_until = NULL WHERE id = $1",
        [id, at, providerId],
      )
    },
    sentInWindow: (contactId, channel, since) =>
      count("SELECT count(*) AS n FROM notify_outbox WHERE contact_id = $1 AND channel = $2 AND state = 'sent' AND sent_at > $3", [
        contactId,
        channel,
        since,
      ]),
    async heldGroups() {
      const res = await pool.query<HeldGroup & { n: string }>(
        "SELECT contact_id, channel, min(id) AS first, count(*) AS n FROM notify_outbox WHERE state = 'held' GROUP BY contact_id, channel",
      )
      return res.rows.map((r) => ({ ...r, n: Number(r.n) }))
    },
    async digest(contactId, channel, make) {
      await inTransaction(pool, async (c) => {
        // A second node digesting the same group waits here, then finds the rows digested.
        const rows = (
          await c.query<PgRow>(
            "SELECT * FROM notify_outbox WHERE state = 'held' AND contact_id = $1 AND channel = $2 ORDER BY id FOR UPDATE",
            [contactId, channel],
          )
        ).rows.map(toRow)
        if (rows.length === 0) return
        const row = make(rows)
        if (row) await insertAll(c, [row])
        await c.query("UPDATE notify_outbox SET state = 'digested' WHERE id = ANY($1)", [rows.map((r) => r.id)])
      })
    },
    pendingCount: () => count("SELECT count(*) AS n FROM notify_outbox WHERE state IN ('pending', 'deferred', 'sending', 'held')", []),
    async nextDue() {
      const t = (
        await pool.query<{ t: string | null }>("SELECT min(next_at) AS t FROM notify_outbox WHERE state IN ('pending', 'deferred')")
      ).rows[0]?.t
      return t === null || t === undefined ? null : Number(t)
    },
    async prune(before) {
      await pool.query(
        "DELETE FROM notify_outbox WHERE state IN ('sent', 'digested', 'failed', 'uncertain', 'undeliverable', 'skipped') AND created_at < $1",
        [before],
      )
    },
    async alertState(alertId) {
      // The alerts' own table, in the same database (gateway/alerts/postgres).
      return (
        await pool.query<{ state: string; resolved_at: string | null }>('SELECT state, resolved_at FROM alerts WHERE id = $1', [alertId])
      ).rows[0]
    },
    async toldBefore(alertId, contactId, channel) {
      const res = await pool.query(
        "SELECT 1 FROM notify_outbox WHERE alert_id = $1 AND contact_id = $2 AND channel = $3 AND state = 'sent' LIMIT 1",
        [alertId, contactId, channel],
      )
      return res.rows.length > 0
    },
    async all(state) {
      const res = state
        ? await pool.query<PgRow>('SELECT * FROM notify_outbox WHERE state = $1 ORDER BY id', [state])
        : await pool.query<PgRow>('SELECT * FROM notify_outbox ORDER BY id')
      return res.rows.map(toRow)
    },
    async countsByAlert(alertIds) {
      if (alertIds.length === 0) return []
      // COLLATE "C": byte order, the order SQLite keeps.
      const res = await pool.query<{ alert_id: string; channel: string; state: string; n: string }>(
        `SELECT alert_id, channel, state, count(*) AS n FROM notify_outbox WHERE alert_id = ANY($1)
         GROUP BY alert_id, channel, state ORDER BY alert_id COLLATE "C", channel COLLATE "C", state COLLATE "C"`,
        [alertIds],
      )
      return res.rows.map((r) => ({ ...r, n: Number(r.n) }))
    },
    async page(f, page) {
      const where = outboxPageWhere(f, page.cursor)
      const res = await pool.query<PgRow>(
        `SELECT * FROM notify_outbox ${numbered(where.sql)} ORDER BY id DESC LIMIT $${where.args.length + 1}`,
        [...where.args, page.limit + 1],
      )
      return res.rows.map(toRow)
    },
  }
}
