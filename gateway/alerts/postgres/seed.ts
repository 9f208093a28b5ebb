import type Database from 'better-sqlite3'
import type pg from 'pg'
import type { Logger } from '../../log/logger.ts'
import { NOTIFY_PG_MIGRATIONS, NOTIFY_PG_MIGRATIONS_TABLE } from '../../notify/postgres/migrations.ts'
import type { OutboxRow } from '../../notify/store.ts'
import { migratePg } from '../../pg/migrate.ts'
import { seedOnce } from '../../pg/seed-once.ts'
import { hasTable, openOwnFile } from '../../sqlite/own-file.ts'
import type { AlertRow } from '../row.ts'

// The first start of a cluster (docs/operations.md "Alerts in PostgreSQL"): the first node to get
// here copies the alert state of its own alerts.db into PostgreSQL, once across nodes, so that a
// province moving from one node to a cluster continues where that node was. An alert already open
// stays open under its id with its acknowledgement, history and escalation; the rule state that
// says a condition is already alerted comes too, so the same ongoing condition raises no second
// alert and nobody is told again; the outbox's messages still to send are sent once, by one node.
//
// What is copied, table by table (alerts.db → PostgreSQL, the columns of both from ../tables.ts
// and ../../notify/tables.ts, so every column maps to its namesake):
//   alerts → alerts: every alert, open and closed, as stored (ids, level, acknowledgement and
//     resolution who/when/note, escalated_tier and attention_since, which are the escalation's
//     state); `late` 0/1 becomes a boolean.
//   alert_history → alert_history: every entry, its JSON text kept as written.
//   rule_state → alert_rule_state: the level conditions' and silence rules' state, keyed by
//     (rule, subject) on both sides. A partition owner loads a subject's state by that same key
//     (../partitions.ts hashes the subject, the key holds no partition), so whichever node owns
//     it reads what this node had.
//   outbox → notify_outbox: every message, pending and sent: PostgreSQL keeps sent ones too
//     (pruned by age, as alerts.db's are), and they count towards a contact's rate limit and
//     whether a contact was told before. PostgreSQL's own claim columns are empty, except for a
//     message left `sending` (this node stopped mid-request): it is given to this node with a
//     claim already lapsed, so the recovery of interrupted sends (../../notify/recovery.ts) deals
//     with it as this node's restart would have.
// Not here: contacts, provider tokens and webhooks, which are in alerts.db too but seeded by their
// own capabilities (notify/postgres/contacts.ts, tokens.ts, webhooks/postgres/store.ts).

const LOCK = 'iocgw:alerts_seed'
/** The record table (migrations.ts version 2). */
const RECORD = 'alerts_seeded'
/** Rows read from alerts.db and written to PostgreSQL at a time: a busy node's history is long. */
const BATCH = 500

export interface AlertsSeedOptions {
  /** This node's alerts.db (<dataDir>/alerts.db). */
  file: string
  nodeId: string
  logger: Logger
}

type Counts = { alerts: number; history: number; rule_states: number; outbox: number }

const ALERT_COLUMNS =
  'id, rule, kind, subject, station, device, zone, district, severity, level, value, threshold, unit, state, title, late, ' +
  'opened_at, updated_at, acked_by, acked_at, ack_note, resolved_by, resolved_at, resolve_note, escalated_tier, attention_since'
const OUTBOX_COLUMNS =
  'key, alert_id, change_seq, contact_id, channel, severity, message, state, attempts, next_at, created_at, sent_at, provider_id, ' +
  'last_error, claimed_by, claimed_until'

const hasRows = (db: Database.Database, table: string) =>
  hasTable(db, table) && db.prepare(`SELECT 1 FROM ${table} LIMIT 1`).get() !== undefined

/**
 * This node's alerts.db opened read-only, or undefined when there is nothing to copy: no file
 * (never created here), or none of the tables copied holds a row (in cluster mode every node's
 * alerts.db is made at start, for contacts, tokens and webhooks: one that never ran alone holds
 * only empty tables). Such a node does not take the seed's lock either, so it never waits for the
 * copy of the node that has something.
 */
function openOwn(file: string): Database.Database | undefined {
  return openOwnFile(file, (db) => ['alerts', 'alert_history', 'rule_state', 'outbox'].some((t) => hasRows(db, t)))
}

/** A table's rows in rowid order, BATCH at a time: never the whole table in memory. */
async function inPages<R>(db: Database.Database, table: string, columns: string, write: (rows: R[]) => Promise<number>): Promise<number> {
  if (!hasTable(db, table)) return 0
  const page = db.prepare(`SELECT rowid AS rowid_, ${columns} FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT ${BATCH}`)
  let after = Number.MIN_SAFE_INTEGER
  let n = 0
  for (;;) {
    const rows = page.all(after) as Array<R & { rowid_: number }>
    if (rows.length === 0) return n
    after = rows[rows.length - 1]!.rowid_
    n += await write(rows.map(({ rowid_: _r, ...r }) => r as R))
  }
}

async function inUse(c: pg.PoolClient): Promise<boolean> {
  const r = await c.query<{ used: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM alerts) OR EXISTS (SELECT 1 FROM alert_history) OR EXISTS (SELECT 1 FROM alert_rule_state) AS used',
  )
  return r.rows[0]!.used
}

async function copyOwn(c: pg.PoolClient, db: Database.Database, nodeId: string): Promise<Counts> {
  const alerts = await inPages<AlertRow<number, number>>(db, 'alerts', '*', async (rows) => {
    const res = await c.query(
      `INSERT INTO alerts (${ALERT_COLUMNS}) SELECT ${ALERT_COLUMNS} FROM json_populate_recordset(NULL::alerts, $1)`,
      [JSON.stringify(rows.map((r) => ({ ...r, late: r.late === 1 })))],
    )
    return res.rowCount ?? 0
  })
  // After the alerts (the history's foreign key). text → json keeps each entry's text as written.
  const history = await inPages<{ alert_id: string; seq: number; entry: string }>(db, 'alert_history', '*', async (rows) => {
    const res = await c.query(
      'INSERT INTO alert_history (alert_id, seq, entry) SELECT a, s, e::json FROM unnest($1::text[], $2::integer[], $3::text[]) AS t(a, s, e)',
      [rows.map((r) => r.alert_id), rows.map((r) => r.seq), rows.map((r) => r.entry)],
    )
    return res.rowCount ?? 0
  })
  const ruleStates = await inPages<{ rule: string; subject: string; state: string }>(db, 'rule_state', '*', async (rows) => {
    const res = await c.query(
      'INSERT INTO alert_rule_state (rule, subject, state) SELECT r, s, j::json FROM unnest($1::text[], $2::text[], $3::text[]) AS t(r, s, j)',
      [rows.map((r) => r.rule), rows.map((r) => r.subject), rows.map((r) => r.state)],
    )
    return res.rowCount ?? 0
  })
  // The outbox is not part of "in use": any node writes to it outside alerts (announcements, test
  // messages), even before the node with this file starts. Its ids are kept when the table is
  // empty (the API's outbox list shows them; a held group's digest key holds its first id), and
  // the identity then set past them; otherwise PostgreSQL numbers the rows, in alerts.db's order,
  // which keeps the order they are sent in. A key already there (none can be: its alert is new) is left.
  const keepIds = !(await c.query('SELECT 1 FROM notify_outbox LIMIT 1')).rowCount
  const columns = keepIds ? `id, ${OUTBOX_COLUMNS}` : OUTBOX_COLUMNS
  const outbox = await inPages<OutboxRow>(db, 'outbox', '*', async (rows) => {
    const claimed = (r: OutboxRow) => (r.state === 'sending' ? { claimed_by: nodeId, claimed_until: 0 } : {})
    const res = await c.query(
      `INSERT INTO notify_outbox (${columns}) SELECT ${columns} FROM json_populate_recordset(NULL::notify_outbox, $1) ORDER BY id
       ON CONFLICT (key) DO NOTHING`,
      [JSON.stringify(rows.map((r) => ({ ...r, ...claimed(r) })))],
    )
    return res.rowCount ?? 0
  })
  if (keepIds && outbox > 0)
    await c.query("SELECT setval(pg_get_serial_sequence('notify_outbox', 'id'), (SELECT max(id) FROM notify_outbox))")
  return { alerts, history, rule_states: ruleStates, outbox }
}

/**
 * Copies this node's alerts.db alert state into PostgreSQL when no node has yet (see the top of
 * this file). Runs after the alerts' migrations. A node with nothing to copy neither records nor
 * creates anything: the node that ran alone, started a moment later, still copies. A database
 * whose alert tables already hold rows with no seed recorded (a cluster that ran before this
 * version, or from nodes that had nothing to copy) is recorded as seeded by '(in use)' and gets
 * nothing: this node's alerts would be merged into alerts that went on without them. Logs counts,
 * never rows. Answers the counts copied, or undefined.
 */
export async function seedAlertsFromFile(pool: pg.Pool, o: AlertsSeedOptions): Promise<Counts | undefined> {
  const db = openOwn(o.file)
  if (!db) return undefined
  const log = o.logger.child({ component: 'alerts' })
  try {
    // notify_outbox is notify's table: its migrations are applied here too (once across nodes,
    // nothing to do when applied), so the seed does not depend on the order the stores open in.
    await migratePg(pool, NOTIFY_PG_MIGRATIONS, NOTIFY_PG_MIGRATIONS_TABLE)
    // One read snapshot of alerts.db for the whole copy.
    db.exec('BEGIN')
    return await seedOnce(pool, {
      lock: LOCK,
      record: RECORD,
      counts: ['alerts', 'history', 'rule_states', 'outbox'],
      nodeId: o.nodeId,
      inUse,
      copy: (c) => copyOwn(c, db, o.nodeId),
      log,
      message: "alerts, their history, rule state and the notification outbox seeded into PostgreSQL from this node's alerts.db",
      source: 'alerts.db',
    })
  } finally {
    db.close()
  }
}
