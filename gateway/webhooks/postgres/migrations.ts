import { webhookTables } from '../../alerts/tables.ts'
import type { PgMigration } from '../../pg/migrate.ts'
import { POSTGRES_TYPES } from '../../util/sql-types.ts'

/**
 * Webhooks' own tracking table in PostgreSQL (gateway/pg/migrate.ts applies each version once
 * across nodes). A list of its own rather than a version of notify's: webhooks are a capability of
 * their own (docs/architecture.md), whose tables notify neither reads nor writes, and each
 * capability's migrations serialise on their own lock without waiting for another's.
 */
export const WEBHOOKS_PG_MIGRATIONS_TABLE = 'webhooks_schema_migrations'

// Append-only: a released migration is never edited, a change is a new entry. The tables of
// alerts.db's version 3 (gateway/alerts/tables.ts), plus the claim of the node working on a delivery
// (claimed_by, a node id; claimed_until, epoch ms), docs/operations.md "Webhooks across nodes".
// Delivery times are epoch ms, subscription times ISO 8601 text, as in alerts.db. `secret` is kept
// as given, as in alerts.db: the gateway signs every delivery with it (docs/webhooks.md "The secret").
export const WEBHOOKS_PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    sql: `
      ${webhookTables(POSTGRES_TYPES, {
        deliveryNumber: 'BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY',
        claim: `
        claimed_by TEXT,
        claimed_until BIGINT,`,
      })}
    `,
  },
]
