import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import Database, { type Database as Db } from 'better-sqlite3'
import { migrate, type Migration } from '../sqlite/migrate.ts'

// alerts.db holds alerts, their history, rule state AND the notification outbox, so that an alert
// change and the notifications it causes commit in one transaction. The engine and the notifier
// share one connection per file (a transaction cannot span connections).

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        rule TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        station TEXT, device TEXT, zone TEXT, district TEXT,
        severity TEXT NOT NULL,
        level INTEGER,
        value REAL, threshold REAL, unit TEXT,
        state TEXT NOT NULL,
        title TEXT NOT NULL,
        late INTEGER NOT NULL DEFAULT 0,
        opened_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        acked_by TEXT, acked_at TEXT, ack_note TEXT,
        resolved_by TEXT, resolved_at TEXT, resolve_note TEXT,
        escalated_tier INTEGER NOT NULL DEFAULT 1,
        attention_since INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX alerts_one_active ON alerts(rule, subject) WHERE state != 'resolved';
      CREATE INDEX alerts_state ON alerts(state, updated_at);
      CREATE TABLE alert_history (
        alert_id TEXT NOT NULL REFERENCES alerts(id),
        seq INTEGER NOT NULL,
        entry TEXT NOT NULL,
        PRIMARY KEY (alert_id, seq)
      );
      CREATE TABLE rule_state (
        rule TEXT NOT NULL,
        subject TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (rule, subject)
      );
      CREATE TABLE contacts (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        phone TEXT,
        zalo_user_id TEXT,
        role TEXT NOT NULL,
        tier INTEGER NOT NULL DEFAULT 1,
        kinds TEXT, stations TEXT, districts TEXT,
        min_severity TEXT NOT NULL,
        channels TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        alert_id TEXT,
        change_seq INTEGER,
        contact_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        severity TEXT NOT NULL,
        message TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        sent_at INTEGER,
        provider_id TEXT,
        last_error TEXT
      );
      CREATE INDEX outbox_due ON outbox(state, next_at);
      CREATE INDEX outbox_contact_sent ON outbox(contact_id, sent_at);
      CREATE TABLE provider_tokens (
        provider TEXT PRIMARY KEY,
        access_token TEXT NOT NULL,
        refresh_token TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        updated_at TEXT NOT NULL
      );
    `,
  },
  {
    // Per-contact quiet hours (docs/notify.md "Quiet hours"); the outbox list's filter by alert.
    version: 2,
    sql: `
      ALTER TABLE contacts ADD COLUMN quiet_hours TEXT;
      CREATE INDEX outbox_alert ON outbox(alert_id);
    `,
  },
  {
    // Webhook subscriptions and their deliveries (gateway/webhooks, docs/webhooks.md). Here, not in
    // a file of their own, so that an alert change and the webhook deliveries it causes commit in
    // one transaction, as the notification outbox does. The secret is kept as given: the gateway
    // signs every delivery with it, so it cannot be hashed (it is shown once, at creation).
    version: 3,
    sql: `
      CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        events TEXT NOT NULL,
        secret TEXT NOT NULL,
        description TEXT,
        enabled INTEGER NOT NULL DEFAULT 1,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        disabled_at TEXT, disabled_reason TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE webhook_deliveries (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        event_id TEXT NOT NULL,
        event TEXT NOT NULL,
        ordering_key TEXT NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        delivered_at INTEGER,
        last_status INTEGER,
        last_error TEXT,
        UNIQUE (webhook_id, event_id)
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_at);
      CREATE INDEX webhook_deliveries_order ON webhook_deliveries(webhook_id, ordering_key, n);
    `,
  },
]

const open = new Map<string, { db: Db; refs: number }>()

export interface SharedDb {
  db: Db
  release(): void
}

/** Opens (or shares within this process) <dataDir>/alerts.db. Call release() when done. */
export function openAlertsDb(dataDir: string): SharedDb {
  mkdirSync(dataDir, { recursive: true })
  const file = resolve(join(dataDir, 'alerts.db'))
  let entry = open.get(file)
  if (!entry) {
    const db = new Database(file)
    db.pragma('journal_mode = WAL')
    // NORMAL in WAL mode: a commit survives a crash of the process (kill -9) at once, and a power
    // cut once the WAL is checkpointed; FULL would fsync every alert change and every outbox
    // state change, which under a busy disk costs the sender hundreds of milliseconds. An alert
    // change and its outbox rows are one transaction either way, so they are kept or lost together.
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    migrate(db, MIGRATIONS)
    entry = { db, refs: 0 }
    open.set(file, entry)
  }
  entry.refs++
  const e = entry
  let released = false
  return {
    db: e.db,
    release() {
      if (released) return
      released = true
      e.refs--
      if (e.refs === 0) {
        open.delete(file)
        e.db.close()
      }
    },
  }
}
