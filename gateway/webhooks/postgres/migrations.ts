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
  {
    // Which node copied its own alerts.db subscriptions and pending deliveries in, and how many
    // (postgres/store.ts, docs/operations.md "Webhooks across nodes"): seeded once across nodes.
    // A cluster that used these tables before this version existed has had its subscriptions made
    // through the API since: it is recorded as seeded (by no node), so that an old alerts.db is not
    // copied in next to them and every event sent twice. Fresh, both tables are empty here.
    version: 2,
    sql: `
      CREATE TABLE webhooks_seeded (
        node TEXT NOT NULL,
        webhooks INTEGER NOT NULL,
        deliveries INTEGER NOT NULL,
        at TIMESTAMPTZ NOT NULL DEFAULT now()
      );
      INSERT INTO webhooks_seeded (node, webhooks, deliveries)
        SELECT '(in use before version 2)', 0, 0
        WHERE EXISTS (SELECT 1 FROM webhooks) OR EXISTS (SELECT 1 FROM webhook_deliveries);
    `,
  },
]
