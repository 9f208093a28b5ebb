import type { PgMigration } from '../../pg/migrate.ts'

/** The registry's own tracking table (gateway/pg/migrate.ts applies each version once across nodes). */
export const REGISTRY_PG_MIGRATIONS_TABLE = 'registry_schema_migrations'

// Append-only: a released migration is never edited, a change is a new entry. The same tables as
// the SQLite registry (../migrations.ts); times stay ISO text so that both answer the same strings.
export const REGISTRY_PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        station TEXT,
        district TEXT,
        lat DOUBLE PRECISION,
        lon DOUBLE PRECISION,
        tags JSONB NOT NULL DEFAULT '[]',
        state TEXT NOT NULL DEFAULT 'active',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX devices_kind ON devices(kind);
      CREATE INDEX devices_station ON devices(station);
      CREATE TABLE device_credentials (
        device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
        secret_hash BYTEA NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        token_hash BYTEA NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        last_used_at TEXT
      );
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
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        districts JSONB NOT NULL DEFAULT '[]',
        stations JSONB NOT NULL DEFAULT '[]',
        password_hash TEXT NOT NULL,
        disabled BOOLEAN NOT NULL DEFAULT FALSE,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_login_at TEXT
      );
      CREATE TABLE user_sessions (
        id_hash BYTEA PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        last_seen_ms BIGINT NOT NULL
      );
      CREATE INDEX user_sessions_user ON user_sessions(user_id);
      -- Which server key the nodes hash secrets with (registry/postgres/index.ts): a fingerprint, never the key.
      CREATE TABLE registry_server_key (
        one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
        fingerprint TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
    `,
  },
]
