import type { PgMigration } from '../../pg/migrate.ts'
import { POSTGRES_TYPES } from '../../util/sql-types.ts'
import { outboxColumns } from '../tables.ts'

/** Notify's own tracking table in PostgreSQL (gateway/pg/migrate.ts applies each version once across nodes). */
export const NOTIFY_PG_MIGRATIONS_TABLE = 'notify_schema_migrations'

// Append-only: a released migration is never edited, a change is a new entry. The outbox has the
// columns of alerts.db's (../tables.ts) plus the claim of the node working on a row (claimed_by, a
// node id; claimed_until, epoch ms), docs/operations.md "Notifications across nodes". Times are
// epoch ms as in alerts.db; alert ids compare byte-wise as in the alerts' tables.
export const NOTIFY_PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE notify_outbox (${outboxColumns(POSTGRES_TYPES)},
        claimed_by TEXT,
        claimed_until BIGINT
      );
      CREATE INDEX notify_outbox_due ON notify_outbox(state, next_at);
      CREATE INDEX notify_outbox_contact_sent ON notify_outbox(contact_id, sent_at);
      CREATE INDEX notify_outbox_alert ON notify_outbox(alert_id);
    `,
  },
  {
    // Contacts shared by every node (docs/operations.md "Contacts across nodes"), with alerts.db's
    // columns; `notify_contacts_seeded` records the one node whose own contacts were copied in.
    version: 2,
    sql: `
      CREATE TABLE notify_contacts (
        id TEXT COLLATE "C" PRIMARY KEY,
        name TEXT NOT NULL,
        phone TEXT,
        zalo_user_id TEXT,
        role TEXT NOT NULL,
        tier INTEGER NOT NULL,
        kinds TEXT,
        stations TEXT,
        districts TEXT,
        min_severity TEXT NOT NULL,
        channels TEXT NOT NULL,
        quiet_hours TEXT,
        created_at TEXT NOT NULL
      );
      CREATE TABLE notify_contacts_seeded (
        node TEXT NOT NULL,
        contacts INTEGER NOT NULL,
        at TIMESTAMPTZ NOT NULL DEFAULT now()
      );
    `,
  },
  {
    // Providers' OAuth tokens (a Zalo refresh token is single use: one current pair for every node).
    version: 3,
    sql: `
      CREATE TABLE notify_provider_tokens (
        provider TEXT PRIMARY KEY,
        access_token TEXT NOT NULL,
        refresh_token TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
      );
    `,
  },
]
