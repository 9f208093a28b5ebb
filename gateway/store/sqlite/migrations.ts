import type { Migration } from '../../sqlite/migrate.ts'

// Append-only: a released migration is never edited, a change is a new entry.
//
// Narrow layout, one row per (series, field, ts): a readings query asks for one metric of one
// device over a time range, which is then a single range scan of the clustered primary key
// (WITHOUT ROWID), and aggregation is plain SQL over `v`. A series is a measurement plus its tag
// set (InfluxDB's notion), so a duplicate point (same tags and ts) replaces itself.
// `t` says how to read `v` back: 0 number, 1 string, 2 boolean (stored 0/1).
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        measurement TEXT NOT NULL,
        tags TEXT NOT NULL
      );
      CREATE TABLE field_keys (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
      );
      CREATE TABLE samples (
        series INTEGER NOT NULL,
        field INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        v,
        t INTEGER NOT NULL,
        PRIMARY KEY (series, field, ts)
      ) WITHOUT ROWID;
      -- Each readings field's newest value per series, kept on write so /readings/latest never
      -- scans history.
      CREATE TABLE latest (
        series INTEGER NOT NULL,
        field INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        v,
        t INTEGER NOT NULL,
        PRIMARY KEY (series, field)
      ) WITHOUT ROWID;
    `,
  },
  {
    // The type of each field per measurement, so a write whose field type differs is refused as
    // InfluxDB would refuse it (the stores must agree on what they accept).
    version: 2,
    sql: `
      CREATE TABLE field_types (
        measurement TEXT NOT NULL,
        field TEXT NOT NULL,
        type TEXT NOT NULL,
        PRIMARY KEY (measurement, field)
      ) WITHOUT ROWID;
      INSERT OR IGNORE INTO field_types (measurement, field, type)
        SELECT DISTINCT se.measurement, fk.name,
          CASE sa.t WHEN 1 THEN 'string' WHEN 2 THEN 'boolean' ELSE 'float' END
        FROM samples sa JOIN series se ON se.id = sa.series JOIN field_keys fk ON fk.id = sa.field;
    `,
  },
]
