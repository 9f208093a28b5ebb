import type { Migration } from '../sqlite/migrate.ts'
import { SQLITE_TYPES } from '../util/sql-types.ts'
import { deviceTables, userTables } from './tables.ts'

// Append-only: a released migration is never edited, a change is a new entry.
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      ${deviceTables(SQLITE_TYPES)}
      CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts TEXT NOT NULL,
        actor_type TEXT NOT NULL,
        actor_id TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT
      );
    `,
  },
  {
    // Per-camera vision configuration (zones, tiling, dry reference; docs/vision.md), as JSON the
    // vision capability validates. Not tied to devices(id): gateway.yaml may seed a camera before
    // it is registered.
    version: 2,
    sql: `
      CREATE TABLE camera_configs (
        camera TEXT PRIMARY KEY,
        config TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `,
  },
  {
    // People (the console), ./tables.ts.
    version: 3,
    sql: `
      ${userTables(SQLITE_TYPES)}
      ALTER TABLE audit_log ADD COLUMN actor_name TEXT;
    `,
  },
]
