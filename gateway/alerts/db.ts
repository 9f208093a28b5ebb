import { openSharedDb, type SharedDb } from '../sqlite/shared.ts'
import type { Migration } from '../sqlite/migrate.ts'
import { SQLITE_TYPES } from '../util/sql-types.ts'
import { alertTables, webhookTables } from './tables.ts'

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
      ${webhookTables(SQLITE_TYPES, { deliveryNumber: SQLITE_TYPES.serialKey, claim: '' })}
    `,
  },
]

export type { SharedDb }

/** Opens (or shares within this process) <dataDir>/alerts.db with the alerts' tables. Call release() when done. */
export function openAlertsDb(dataDir: string): SharedDb {
  return openSharedDb(dataDir, 'alerts.db', MIGRATIONS, 'schema_migrations')
}
