import type { Database as Db } from 'better-sqlite3'
import { openAlertsDb } from '../alerts/db.ts'
import { readShared } from '../sqlite/shared.ts'
import type { OutgoingEvent } from './events.ts'
import { eventBody } from './events.ts'
import { deliveryPage, failuresReason, newDeliveryId, newWebhookRow, toDelivery, toWebhook, wants } from './registry.ts'
import type { DeliveryRow, HookRow } from './registry.ts'
import type { ClaimedDelivery, WebhookStore } from './store.ts'

// Subscriptions and deliveries in this gateway's alerts.db (migration 3, gateway/alerts/db.ts);
// store.ts has the contract. One sender works on them, so a due delivery needs no claim;
// better-sqlite3 answers synchronously and the promises only give it the shape PostgreSQL needs.
// An alert change's deliveries are written on the connection alerts.db shares with the alert
// store, inside its transaction (AlertTx.local).

/** A node's own subscriptions and its deliveries still pending, as its alerts.db holds them. */
export interface OwnWebhooks {
  webhooks: HookRow[]
  /** In the order they were queued (n): the order each ordering key is sent in. */
  pending: DeliveryRow[]
}

/** This node's own webhooks in alerts.db: what the first start of a cluster copies into PostgreSQL. */
export function alertsDbWebhooks(dataDir: string): OwnWebhooks {
  return readShared(openAlertsDb(dataDir), (db) => ({
    webhooks: db.prepare('SELECT * FROM webhooks ORDER BY created_at, id').all() as HookRow[],
    pending: db.prepare("SELECT * FROM webhook_deliveries WHERE state = 'pending' ORDER BY n").all() as DeliveryRow[],
  }))
}

export function sqliteWebhookStore(db: Db, now: () => number): WebhookStore {
  const st = {
    get: db.prepare('SELECT * FROM webhooks WHERE id = ?'),
    subscribers: db.prepare('SELECT id, events FROM webhooks'),
    insert:
      db.prepare(`INSERT OR IGNORE INTO webhook_deliveries (id, webhook_id, event_id, event, ordering_key, body, state, next_at, created_at)
      VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)`),
    // Due, of an enabled subscription, and first of its ordering key still pending.
    due: db.prepare(`SELECT d.*, w.url, w.secret FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
      WHERE d.state = 'pending' AND d.next_at <= ? AND w.enabled = 1
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.webhook_id = d.webhook_id AND e.ordering_key = d.ordering_key AND e.state = 'pending' AND e.n < d.n)
      ORDER BY d.n LIMIT ?`),
    pendingOne: db.prepare("SELECT 1 FROM webhook_deliveries WHERE n = ? AND state = 'pending'"),
    delivered: db.prepare(
      "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, delivered_at = ?, last_status = ?, last_error = NULL WHERE n = ?",
    ),
    failed: db.prepare('UPDATE webhook_deliveries SET attempts = attempts + 1, next_at = ?, last_status = ?, last_error = ? WHERE n = ?'),
    okHook: db.prepare('UPDATE webhooks SET consecutive_failures = 0 WHERE id = ?'),
    badHook: db.prepare(
      'UPDATE webhooks SET consecutive_failures = consecutive_failures + 1 WHERE id = ? RETURNING consecutive_failures AS n, enabled',
    ),
    disable: db.prepare('UPDATE webhooks SET enabled = 0, disabled_at = ?, disabled_reason = ?, updated_at = ? WHERE id = ?'),
    pending: db.prepare("SELECT count(*) AS n FROM webhook_deliveries WHERE state = 'pending'"),
  }
  const iso = () => new Date(now()).toISOString()
  const get = (id: string) => {
    const r = st.get.get(id) as HookRow | undefined
    return r ? toWebhook(r) : undefined
  }
  function queueSync(e: OutgoingEvent): number {
    const body = eventBody(e)
    let n = 0
    for (const s of st.subscribers.all() as Array<{ id: string; events: string }>) {
      if (wants(s.events, e.type)) n += st.insert.run(newDeliveryId(), s.id, e.id, e.type, e.orderingKey, body, now(), now()).changes
    }
    return n
  }

  return {
    backend: 'sqlite',
    async list() {
      return (db.prepare('SELECT * FROM webhooks ORDER BY created_at, id').all() as HookRow[]).map(toWebhook)
    },
    get: async (id) => get(id),
    async create(input) {
      const w = newWebhookRow(input, iso())
      db.prepare(
        'INSERT INTO webhooks (id, url, events, secret, description, created_at, updated_at) VALUES (@id, @url, @events, @secret, @description, @at, @at)',
      ).run(w)
      return { webhook: get(w.id)!, secret: w.secret }
    },
    async update(id, patch) {
      if (!get(id)) return undefined
      const at = iso()
      db.transaction(() => {
        if (patch.url !== undefined) db.prepare('UPDATE webhooks SET url = ?, updated_at = ? WHERE id = ?').run(patch.url, at, id)
        if (patch.events !== undefined)
          db.prepare('UPDATE webhooks SET events = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(patch.events), at, id)
        if (patch.description !== undefined)
          db.prepare('UPDATE webhooks SET description = ?, updated_at = ? WHERE id = ?').run(patch.description, at, id)
        if (patch.enabled === true) {
          // Enabled again: a fresh run of failures, and what waited is due now.
          db.prepare(
            'UPDATE webhooks SET enabled = 1, consecutive_failures = 0, disabled_at = NULL, disabled_reason = NULL, updated_at = ? WHERE id = ?',
          ).run(at, id)
          db.prepare("UPDATE webhook_deliveries SET next_at = ? WHERE webhook_id = ? AND state = 'pending'").run(now(), id)
        }
        if (patch.enabled === false)
          db.prepare(
            "UPDATE webhooks SET enabled = 0, disabled_at = ?, disabled_reason = 'disabled by an admin', updated_at = ? WHERE id = ?",
          ).run(at, at, id)
      })()
      return get(id)
    },
    async remove(id) {
      return db.prepare('DELETE FROM webhooks WHERE id = ?').run(id).changes > 0
    },
    async deliveries(id, page) {
      const rows = db
        .prepare('SELECT * FROM webhook_deliveries WHERE webhook_id = ? AND n < ? ORDER BY n DESC LIMIT ?')
        .all(id, page.before ?? Number.MAX_SAFE_INTEGER, page.limit + 1) as DeliveryRow[]
      return deliveryPage(rows, page.limit)
    },
    async redeliver(id, deliveryId) {
      const r = db
        .prepare("UPDATE webhook_deliveries SET state = 'pending', next_at = ? WHERE webhook_id = ? AND id = ? RETURNING *")
        .get(now(), id, deliveryId) as DeliveryRow | undefined
      return r ? toDelivery(r) : undefined
    },
    async queueInTx(tx, e) {
      let n = 0
      tx.local(() => (n = queueSync(e)))
      return n
    },
    async queue(e) {
      return db.transaction(queueSync)(e)
    },
    async claimDue(at, limit) {
      return st.due.all(at, limit) as ClaimedDelivery[]
    },
    async startAttempt(n) {
      return st.pendingOne.get(n) !== undefined
    },
    async release() {},
    async delivered(d, at, status) {
      db.transaction(() => {
        st.delivered.run(at, status, d.n)
        st.okHook.run(d.webhook_id)
      })()
    },
    async failed(d, f) {
      return db.transaction(() => {
        st.failed.run(f.nextAt, f.status, f.error, d.n)
        const r = st.badHook.get(d.webhook_id) as { n: number; enabled: number } | undefined
        if (!r || r.enabled !== 1 || r.n < f.maxFailures) return undefined
        const at = new Date(f.at).toISOString()
        st.disable.run(at, failuresReason(r.n, f.error), at, d.webhook_id)
        return get(d.webhook_id)
      })()
    },
    async anyDue(at) {
      return st.due.all(at, 1).length > 0
    },
    async pendingCount() {
      return (st.pending.get() as { n: number }).n
    },
  }
}
