// The registry's tables as both of its databases hold them (SQLite, ./migrations.ts; PostgreSQL in
// cluster mode, ./postgres/migrations.ts): one definition, so the two keep the same columns and
// answer the same strings. Only the column types that the two spell differently are parameters.
// Released migrations run these: a changed table is a new migration in both lists, never an edit here.

import type { SqlTypes } from '../util/sql-types.ts'

/** Devices, their credentials (a hash of the secret) and the API tokens (a hash of the token). */
export const deviceTables = (t: SqlTypes): string => `
      CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        station TEXT,
        district TEXT,
        lat ${t.real},
        lon ${t.real},
        tags ${t.json} NOT NULL DEFAULT '[]',
        state TEXT NOT NULL DEFAULT 'active',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX devices_kind ON devices(kind);
      CREATE INDEX devices_station ON devices(station);
      CREATE TABLE device_credentials (
        device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
        secret_hash ${t.bytes} NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        token_hash ${t.bytes} NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        last_used_at TEXT
      );`

/** People (the console) next to API tokens (machines); sessions keep only a keyed hash of their id. */
export const userTables = (t: SqlTypes): string => `
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        districts ${t.json} NOT NULL DEFAULT '[]',
        stations ${t.json} NOT NULL DEFAULT '[]',
        password_hash TEXT NOT NULL,
        disabled ${t.flag} NOT NULL DEFAULT ${t.flagFalse},
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_login_at TEXT
      );
      CREATE TABLE user_sessions (
        id_hash ${t.bytes} PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_ms ${t.int64} NOT NULL,
        last_seen_ms ${t.int64} NOT NULL
      );
      CREATE INDEX user_sessions_user ON user_sessions(user_id);`
