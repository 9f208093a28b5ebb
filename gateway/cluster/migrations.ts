import type { PgMigration } from '../pg/migrate.ts'

/** Tracking table of the cluster capability's PostgreSQL schema (gateway/pg/migrate.ts). */
export const CLUSTER_MIGRATIONS_TABLE = 'cluster_schema_migrations'

// Append-only: a released migration is never edited, a change is a new entry.
export const CLUSTER_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    sql: `
      -- One row per lease name, kept after release so the fencing token only ever grows.
      CREATE TABLE cluster_leases (
        name text PRIMARY KEY,
        holder text,
        token bigint NOT NULL,
        expires_at timestamptz NOT NULL,
        acquired_at timestamptz NOT NULL,
        renewed_at timestamptz NOT NULL
      );
      CREATE TABLE cluster_nodes (
        node_id text PRIMARY KEY,
        started_at timestamptz NOT NULL,
        last_seen timestamptz NOT NULL,
        version text NOT NULL,
        address text
      );
    `,
  },
]
