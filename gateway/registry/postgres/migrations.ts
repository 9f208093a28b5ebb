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
]
