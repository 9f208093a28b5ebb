import { openSharedDb, type SharedDb } from '../sqlite/shared.ts'
import type { Migration } from '../sqlite/migrate.ts'
import { SQLITE_TYPES } from '../util/sql-types.ts'
import { alertTables } from './tables.ts'

// alerts.db holds alerts, their history and rule state; the notification outbox (gateway/notify/db.ts)
// and the webhook deliveries are in the same file, so that an alert change and what it causes
// commit in one transaction (one shared connection per file, gateway/sqlite/shared.ts).
// Versions 1 and 2 created notify's tables too until notify took them over with a migration list
// of its own (recorded as applied there when present): a fresh database gets them from notify.

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      ${alertTables(SQLITE_TYPES, 'rule_state')}
    `,
  },
  {
    // Was notify's (quiet hours, the outbox index by alert): now in gateway/notify/db.ts.
    version: 2,
    sql: 'SELECT 1',
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

export type { SharedDb }

/** Opens (or shares within this process) <dataDir>/alerts.db with the alerts' tables. Call release() when done. */
export function openAlertsDb(dataDir: string): SharedDb {
  return openSharedDb(dataDir, 'alerts.db', MIGRATIONS, 'schema_migrations')
}
