import type { PgMigration } from '../../pg/migrate.ts'

/**
 * Webhooks' own tracking table in PostgreSQL (gateway/pg/migrate.ts applies each version once
 * across nodes). A list of its own rather than a version of notify's: webhooks are a capability of
 * their own (docs/architecture.md), whose tables notify neither reads nor writes, and each
 * capability's migrations serialise on their own lock without waiting for another's.
 */
export const WEBHOOKS_PG_MIGRATIONS_TABLE = 'webhooks_schema_migrations'

// Append-only: a released migration is never edited, a change is a new entry. The columns of
// alerts.db's (gateway/alerts/db.ts, version 3), plus the claim of the node working on a delivery
// (claimed_by, a node id; claimed_until, epoch ms), docs/operations.md "Webhooks across nodes".
// Delivery times are epoch ms, subscription times ISO 8601 text, as in alerts.db. `secret` is kept
// as given, as in alerts.db: the gateway signs every delivery with it (docs/webhooks.md "The secret").
export const WEBHOOKS_PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE webhooks (
        id TEXT COLLATE "C" PRIMARY KEY,
        url TEXT NOT NULL,
        events TEXT NOT NULL,
        secret TEXT NOT NULL,
        description TEXT,
        enabled BOOLEAN NOT NULL DEFAULT TRUE,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        disabled_at TEXT,
        disabled_reason TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE webhook_deliveries (
        n BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        webhook_id TEXT COLLATE "C" NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        event_id TEXT NOT NULL,
        event TEXT NOT NULL,
        ordering_key TEXT NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        delivered_at BIGINT,
        last_status INTEGER,
        last_error TEXT,
        claimed_by TEXT,
        claimed_until BIGINT,
        UNIQUE (webhook_id, event_id)
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_at);
      CREATE INDEX webhook_deliveries_order ON webhook_deliveries(webhook_id, ordering_key, n);
    `,
  },
]
