import type { PgMigration } from '../../pg/migrate.ts'
import { POSTGRES_TYPES } from '../../util/sql-types.ts'
import { deviceTables, userTables } from '../tables.ts'

/** The registry's own tracking table (gateway/pg/migrate.ts applies each version once across nodes). */
export const REGISTRY_PG_MIGRATIONS_TABLE = 'registry_schema_migrations'

// Append-only: a released migration is never edited, a change is a new entry. The same tables as
// the SQLite registry (../migrations.ts, from ../tables.ts); times stay ISO text so that both answer the same strings.
export const REGISTRY_PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    sql: `
      ${deviceTables(POSTGRES_TYPES)}
      CREATE TABLE audit_log (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        ts TEXT NOT NULL,
        actor_type TEXT NOT NULL,
        actor_id TEXT NOT NULL,
        actor_name TEXT,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail JSONB
      );
      CREATE TABLE camera_configs (
        camera TEXT PRIMARY KEY,
        config JSONB NOT NULL,
        updated_at TEXT NOT NULL
      );
      ${userTables(POSTGRES_TYPES)}
      -- Which server key the nodes hash secrets with (registry/postgres/index.ts): a fingerprint, never the key.
      CREATE TABLE registry_server_key (
        one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
        fingerprint TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
    `,
  },
  {
    // Which node copied its own registry.db in, and how many rows of each table (./seed.ts,
    // docs/operations.md "Registry in PostgreSQL"): seeded once across nodes. Unlike webhooks'
    // version 2, no '(in use before version 2)' row is written here: the node that has a
    // registry.db to copy asks at its start whether the registry is in use (seed.ts), records
    // '(in use)' and warns that its registry.db was not copied; a cluster none of whose nodes ran
    // alone has nothing to copy and needs no record.
    version: 2,
    sql: `
      CREATE TABLE registry_seeded (
        node TEXT NOT NULL,
        devices INTEGER NOT NULL,
        credentials INTEGER NOT NULL,
        tokens INTEGER NOT NULL,
        users INTEGER NOT NULL,
        sessions INTEGER NOT NULL,
        cameras INTEGER NOT NULL,
        audit INTEGER NOT NULL,
        at TIMESTAMPTZ NOT NULL DEFAULT now()
      );
    `,
  },
]
