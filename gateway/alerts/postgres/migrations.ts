import type { PgMigration } from '../../pg/migrate.ts'
import { POSTGRES_TYPES } from '../../util/sql-types.ts'
import { alertTables } from '../tables.ts'

/** The alerts' own tracking table (gateway/pg/migrate.ts applies each version once across nodes). */
export const ALERTS_PG_MIGRATIONS_TABLE = 'alerts_schema_migrations'

// Append-only: a released migration is never edited, a change is a new entry. The tables are
// ../tables.ts's in PostgreSQL's types (ids and times compared byte-wise, COLLATE "C", as SQLite
// does, so the list's order and its cursors do not depend on the database's locale; history
// entries and rule states JSON kept as written), with an index for the newest-first list.
export const ALERTS_PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    sql: `
      ${alertTables(POSTGRES_TYPES, 'alert_rule_state')}
      CREATE INDEX alerts_newest ON alerts(updated_at DESC, id DESC);
    `,
  },
  {
    // Which node copied its own alerts.db alert state in, and how many rows of each (seed.ts,
    // docs/operations.md "Alerts in PostgreSQL"): seeded once across nodes. Nothing is recorded
    // here for a database already in use: whether it is is asked at the copy, under the seed's lock
    // (a cluster may come into use after this version, before the node with the file starts).
    version: 2,
    sql: `
      CREATE TABLE alerts_seeded (
        node TEXT NOT NULL,
        alerts INTEGER NOT NULL,
        history INTEGER NOT NULL,
        rule_states INTEGER NOT NULL,
        outbox INTEGER NOT NULL,
        at TIMESTAMPTZ NOT NULL DEFAULT now()
      );
    `,
  },
]
