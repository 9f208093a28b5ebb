import type { Database } from 'better-sqlite3'
import {
  outboxPageWhere,
  type AlertNotificationCount,
  type HeldGroup,
  type NewOutboxRow,
  type OutboxRow,
  type OutboxStore,
} from './store.ts'

// The outbox in this gateway's alerts.db (store.ts has the contract). One sender works on it, so
// a due row needs no claim; better-sqlite3 answers synchronously and the promises only give it the
// shape PostgreSQL needs. Rows caused by an alert change are written on the connection alerts.db
// shares with the alert store, inside its transaction (AlertTx.local).

const FINISHED = "('sent', 'digested', 'failed', 'uncertain', 'undeliverable', 'skipped')"

export function sqliteOutbox(db: Database): OutboxStore {
  const st = {
    insert:
      db.prepare(`INSERT OR IGNORE INTO outbox (key, alert_id, change_seq, contact_id, channel, severity, message, state, next_at, created_at, last_error)
      VALUES (@key, @alert_id, @change_seq, @contact_id, @channel, @severity, @message, @state, @next_at, @created_at, @last_error)`),
    due: db.prepare("SELECT * FROM outbox WHERE state IN ('pending', 'deferred') AND next_at <= ? ORDER BY id LIMIT ?"),
    sendingRows: db.prepare("SELECT id, channel FROM outbox WHERE state = 'sending'"),
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
    prune: db.prepare(`DELETE FROM outbox WHERE state IN ${FINISHED} AND created_at < ?`),
    counts: db.prepare(
      `SELECT alert_id, channel, state, count(*) AS n FROM outbox WHERE alert_id IN (SELECT value FROM json_each(?))
       GROUP BY alert_id, channel, state ORDER BY alert_id, channel, state`,
    ),
    toldBefore: db.prepare("SELECT 1 FROM outbox WHERE alert_id = ? AND contact_id = ? AND channel = ? AND state = 'sent' LIMIT 1"),
  }
  const insertAll = (rows: readonly NewOutboxRow[]) => rows.reduce((n, r) => n + st.insert.run(r).changes, 0)
  // Prepared at first use: the alerts table is the alert engine's (same file), made when it opens.
  let alertState: ReturnType<Database['prepare']> | undefined

  return {
    backend: 'sqlite',
    async insertInTx(tx, rows) {
      tx.local(() => insertAll(rows))
    },
    async insert(rows) {
      return db.transaction(insertAll)(rows)
    },
    async claimDue(now, limit) {
      return st.due.all(now, limit) as OutboxRow[]
    },
    async abandoned() {
      return st.sendingRows.all() as Array<{ id: number; channel: OutboxRow['channel'] }>
    },
    async byKey(key) {
      return st.byKey.get(key) as OutboxRow | undefined
    },
    async present(keys) {
      return new Set(keys.filter((k) => st.byKey.get(k) !== undefined))
    },
    async setState(id, state, nextAt, note) {
      st.setState.run(state, nextAt, note, id)
    },
    async markSending(id) {
      return st.sending.run(id).changes === 1
    },
    async markSent(id, at, providerId) {
      st.sent.run(at, providerId, id)
    },
    async sentInWindow(contactId, channel, since) {
      return (st.sentInWindow.get(contactId, channel, since) as { n: number }).n
    },
    async heldGroups() {
      return st.held.all() as HeldGroup[]
    },
    async digest(contactId, channel, make) {
      db.transaction(() => {
        const rows = st.heldRows.all(contactId, channel) as OutboxRow[]
        if (rows.length === 0) return
        const row = make(rows)
        if (row) st.insert.run(row)
        st.digested.run(contactId, channel)
      })()
    },
    async pendingCount() {
      return (st.pendingCount.get() as { n: number }).n
    },
    async nextDue() {
      return (st.nextDue.get() as { t: number | null }).t
    },
    async prune(before) {
      st.prune.run(before)
    },
    async alertState(alertId) {
      alertState ??= db.prepare('SELECT state, resolved_at FROM alerts WHERE id = ?')
      return alertState.get(alertId) as { state: string; resolved_at: string | null } | undefined
    },
    async toldBefore(alertId, contactId, channel) {
      return st.toldBefore.get(alertId, contactId, channel) !== undefined
    },
    async all(state) {
      if (state) return db.prepare('SELECT * FROM outbox WHERE state = ? ORDER BY id').all(state) as OutboxRow[]
      return db.prepare('SELECT * FROM outbox ORDER BY id').all() as OutboxRow[]
    },
    async countsByAlert(alertIds) {
      return st.counts.all(JSON.stringify(alertIds)) as AlertNotificationCount[]
    },
    async page(f, page) {
      const where = outboxPageWhere(f, page.cursor)
      return db.prepare(`SELECT * FROM outbox ${where.sql} ORDER BY id DESC LIMIT ?`).all(...where.args, page.limit + 1) as OutboxRow[]
    },
  }
}
