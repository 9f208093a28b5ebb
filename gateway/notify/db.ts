import type { Database } from 'better-sqlite3'
import type { Migration } from '../sqlite/migrate.ts'
import { hasTable } from '../sqlite/own-file.ts'
import { openSharedDb, readShared, type SharedDb } from '../sqlite/shared.ts'
import { SQLITE_TYPES } from '../util/sql-types.ts'
import { outboxColumns } from './tables.ts'

// Notify's tables (contacts, the outbox, provider tokens) live in alerts.db next to the alerts, so
// that an alert change and the outbox rows it causes commit in one transaction (one connection per
// file, gateway/sqlite/shared.ts). Notify owns them: its versions are tracked in
// notify_schema_migrations. Until notify had this list, alerts.db's own versions 1 and 2 created
// these tables; on such a database each step finds its work done (`present`) and is only recorded.
// With several nodes (postgres.url) the outbox is in PostgreSQL instead (postgres/migrations.ts);
// contacts and provider tokens stay here.

const hasColumn = (db: Database, table: string, column: string) =>
  (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).some((c) => c.name === column)

export const NOTIFY_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    present: (db) => hasTable(db, 'outbox'),
    sql: `
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
      CREATE TABLE outbox (${outboxColumns(SQLITE_TYPES)}
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
    present: (db) => hasColumn(db, 'contacts', 'quiet_hours'),
    sql: `
      ALTER TABLE contacts ADD COLUMN quiet_hours TEXT;
      CREATE INDEX outbox_alert ON outbox(alert_id);
    `,
  },
]

/** Opens (or shares within this process) <dataDir>/alerts.db with notify's tables. Call release() when done. */
export function openNotifyDb(dataDir: string): SharedDb {
  return openSharedDb(dataDir, 'alerts.db', NOTIFY_MIGRATIONS, 'notify_schema_migrations')
}

/** What `read` takes from <dataDir>/alerts.db, released at once (what a first cluster start copies into PostgreSQL). */
export function readNotifyDb<T>(dataDir: string, read: (db: SharedDb['db']) => T): T {
  return readShared(openNotifyDb(dataDir), read)
}
