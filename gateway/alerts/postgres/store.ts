import type pg from 'pg'
import { numbered } from '../../pg/placeholders.ts'
import { fenceCheck, staleFences } from '../../cluster/leases.ts'
import { FencedError } from '../errors.ts'
import { migratePg } from '../../pg/migrate.ts'
import {
  alertListWhere,
  openedInWhere,
  type AlertPatch,
  type AlertReads,
  type AlertStore,
  type AlertTx,
  type AlertWrites,
  type NewAlert,
  type RuleStateRow,
} from '../store.ts'
import type { Alert, AlertHistoryEntry } from '../types.ts'
import { patchColumns, rowToAlert, type AlertRow } from '../row.ts'
import { ALERTS_PG_MIGRATIONS, ALERTS_PG_MIGRATIONS_TABLE } from './migrations.ts'
import { inTransaction } from '../../pg/transaction.ts'
import { seedAlertsFromFile, type AlertsSeedOptions } from './seed.ts'

// The alert store in PostgreSQL, shared by every node of a cluster (postgres.url, docs/operations.md
// "Alerts in PostgreSQL"); store.ts has the contract. Inside a transaction an alert read for a
// change is locked (FOR UPDATE) until it commits, so that an acknowledgement on one node and an
// escalation or a reading on another change it one after the other.

type Db = Pick<pg.Pool | pg.PoolClient, 'query'>

type Row = AlertRow<boolean, string>

async function histories(db: Db, ids: string[]): Promise<Map<string, AlertHistoryEntry[]>> {
  const out = new Map<string, AlertHistoryEntry[]>(ids.map((id) => [id, []]))
  if (ids.length === 0) return out
  const res = await db.query<{ alert_id: string; entry: AlertHistoryEntry }>(
    'SELECT alert_id, entry FROM alert_history WHERE alert_id = ANY($1) ORDER BY alert_id, seq',
    [ids],
  )
  for (const r of res.rows) out.get(r.alert_id)?.push(r.entry)
  return out
}

async function withHistory(db: Db, rows: Row[]): Promise<Alert[]> {
  const h = await histories(
    db,
    rows.map((r) => r.id),
  )
  return rows.map((r) => rowToAlert(r, r.late, h.get(r.id) ?? []))
}

/** Reads and writes on a pool (each its own statement) or on a transaction's client (`lock`: FOR UPDATE). */
function queries(db: Db, lock: boolean): AlertReads & AlertWrites {
  const forUpdate = lock ? ' FOR UPDATE' : ''
  const one = async (sql: string, args: unknown[]) => {
    const rows = (await db.query<Row>(sql + forUpdate, args)).rows
    return rows[0] ? (await withHistory(db, rows))[0] : undefined
  }
  return {
    get: (id) => one('SELECT * FROM alerts WHERE id = $1', [id]),
    active: (rule, subject) => one("SELECT * FROM alerts WHERE rule = $1 AND subject = $2 AND state <> 'resolved'", [rule, subject]),
    async list(filter, page) {
      // Newest first; the cursor is the last (updated_at, id) seen (the same cursor as SQLite's).
      const where = alertListWhere(filter, page.cursor)
      const sql = `SELECT * FROM alerts ${numbered(where.sql)} ORDER BY updated_at DESC, id DESC LIMIT $${where.args.length + 1}`
      const rows = (await db.query<Row>(sql, [...where.args, page.limit + 1])).rows
      const more = rows.length > page.limit
      const items = await withHistory(db, rows.slice(0, page.limit))
      const last = items[items.length - 1]
      return { items, next: more && last ? Buffer.from(`${last.updated_at}|${last.id}`).toString('base64url') : null }
    },
    async needingEscalation(before, tierBelow) {
      const rows = (
        await db.query<Row>(
          "SELECT * FROM alerts WHERE state = 'open' AND attention_since <= $1 AND escalated_tier < $2 ORDER BY attention_since, id LIMIT 500",
          [before, tierBelow],
        )
      ).rows
      const alerts = await withHistory(db, rows)
      return alerts.map((a, i) => ({ ...a, escalatedTier: rows[i]!.escalated_tier, attentionSince: Number(rows[i]!.attention_since) }))
    },
    async nextSeq(id) {
      const r = await db.query<{ n: number }>('SELECT coalesce(max(seq), 0) + 1 AS n FROM alert_history WHERE alert_id = $1', [id])
      return Number(r.rows[0]!.n)
    },
    async loadRuleState(rule, subject) {
      const r = await db.query<{ state: unknown }>('SELECT state FROM alert_rule_state WHERE rule = $1 AND subject = $2', [rule, subject])
      return r.rows[0]?.state
    },
    async ruleStates(rule) {
      return (await db.query<{ subject: string; state: unknown }>('SELECT subject, state FROM alert_rule_state WHERE rule = $1', [rule]))
        .rows
    },
    async countOpen() {
      return Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM alerts WHERE state <> 'resolved'")).rows[0]!.n)
    },
    async subjectOf(id) {
      return (await db.query<{ subject: string }>('SELECT subject FROM alerts WHERE id = $1', [id])).rows[0]?.subject
    },
    async openedIn(f, page) {
      // opened_at and id are COLLATE "C" (migrations.ts): byte order, the order SQLite keeps.
      const where = openedInWhere(f, page.after)
      const rows = (
        await db.query<Row & { max_level: number | null }>(
          `SELECT a.*, (SELECT max((h.entry->>'level')::integer) FROM alert_history h WHERE h.alert_id = a.id) AS max_level
           FROM alerts a ${numbered(where.sql)} ORDER BY opened_at, id LIMIT $${where.args.length + 1}`,
          [...where.args, page.limit],
        )
      ).rows
      return rows.map(({ subject: _s, escalated_tier: _t, attention_since: _a, ...r }) => r)
    },
    insert: (a) => insert(db, a),
    update: (id, patch) => update(db, id, patch),
    async appendHistory(id, entry) {
      await db.query('INSERT INTO alert_history (alert_id, seq, entry) VALUES ($1, $2, $3)', [id, entry.seq, JSON.stringify(entry)])
    },
    saveRuleStates: (states) => saveRuleStates(db, states),
  }
}

async function saveRuleStates(db: Db, states: readonly RuleStateRow[]): Promise<void> {
  if (states.length === 0) return
  // One statement for all of them: a flush writes every dirty state, and a round trip each was
  // most of a cluster node's PostgreSQL time. ON CONFLICT may change a row only once per
  // statement, so the later of two states of one key is the one sent.
  const latest = new Map(states.map((s) => [`${s.rule}\u0000${s.subject}`, s]))
  const rows = [...latest.values()]
  await db.query(
    `INSERT INTO alert_rule_state (rule, subject, state)
     SELECT * FROM unnest($1::text[], $2::text[], $3::json[])
     ON CONFLICT (rule, subject) DO UPDATE SET state = excluded.state`,
    [rows.map((r) => r.rule), rows.map((r) => r.subject), rows.map((r) => JSON.stringify(r.state))],
  )
}

async function insert(db: Db, a: NewAlert): Promise<boolean> {
  // A concurrent open of the same (rule, subject) waits for the other to commit, then does nothing.
  const r = await db.query(
    `INSERT INTO alerts (id, rule, kind, subject, station, device, zone, district, severity, level, value, threshold, unit,
       state, title, late, opened_at, updated_at, attention_since)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'open', $14, $15, $16, $16, $17)
     ON CONFLICT (rule, subject) WHERE state <> 'resolved' DO NOTHING`,
    [
      a.id,
      a.rule,
      a.kind,
      a.subject,
      a.station ?? null,
      a.device ?? null,
      a.zone ?? null,
      a.district ?? null,
      a.severity,
      a.level ?? null,
      a.value ?? null,
      a.threshold ?? null,
      a.unit ?? null,
      a.title,
      a.late,
      a.at,
      a.attentionSince,
    ],
  )
  return r.rowCount === 1
}

async function update(db: Db, id: string, patch: AlertPatch): Promise<void> {
  const cols = patchColumns(patch, (late) => late)
  const names = Object.keys(cols)
  await db.query(`UPDATE alerts SET ${names.map((n, i) => `${n} = $${i + 2}`).join(', ')} WHERE id = $1`, [
    id,
    ...names.map((n) => cols[n]),
  ])
}

export interface PostgresAlertStoreOptions {
  /**
   * Runs what a router writes with an alert change to this node's alerts.db (AlertTx.local) in a
   * local transaction; without it, each statement on its own. The outbox and the webhook
   * deliveries of a cluster are in PostgreSQL and go through AlertTx.sql instead.
   */
  localTx?: ((fn: () => void) => void) | undefined
  /** Called by close() (e.g. releasing alerts.db); the pool belongs to the caller. */
  onClose?: (() => void) | undefined
  /** This node's own alerts.db, copied in when no node has seeded the alerts yet (seed.ts). */
  seed?: AlertsSeedOptions | undefined
}

/** Applies the alerts' migrations and seeds (each once across nodes), then answers the store. */
export async function openPostgresAlertStore(pool: pg.Pool, opts: PostgresAlertStoreOptions = {}): Promise<AlertStore> {
  await migratePg(pool, ALERTS_PG_MIGRATIONS, ALERTS_PG_MIGRATIONS_TABLE)
  if (opts.seed) await seedAlertsFromFile(pool, opts.seed)
  const local = opts.localTx ?? ((fn: () => void) => fn())
  return {
    ...queries(pool, false),
    backend: 'postgres',
    transaction(fn, txOpts) {
      return inTransaction(pool, async (client) => {
        // FOR SHARE on the lease row: a takeover waits until this transaction ends.
        const fence = txOpts?.fence
        if (fence && !(await fenceCheck(client, fence.name, fence.token))) throw new FencedError(fence.name)
        const tx: AlertTx = { ...queries(client, true), local, sql: client }
        return fn(tx)
      })
    },
    flushRuleStates(groups) {
      // One transaction for every partition's states (a transaction each was 4 statements a
      // partition a second on every node), the leases checked in one statement.
      return inTransaction(pool, async (client) => {
        const fences = groups.flatMap((g) => (g.fence ? [g.fence] : []))
        const stale = await staleFences(client, fences)
        await saveRuleStates(
          client,
          groups.filter((g) => !g.fence || !stale.includes(g.fence)).flatMap((g) => g.states),
        )
        return stale
      })
    },
    async close() {
      opts.onClose?.()
    },
  }
}
