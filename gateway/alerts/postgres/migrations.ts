import type { PgMigration } from '../../pg/migrate.ts'

/** The alerts' own tracking table (gateway/pg/migrate.ts applies each version once across nodes). */
export const ALERTS_PG_MIGRATIONS_TABLE = 'alerts_schema_migrations'

// Append-only: a released migration is never edited, a change is a new entry. The same columns
// as alerts.db (../db.ts) so that both stores answer the same alerts. Ids and times are compared
// byte-wise (COLLATE "C", as SQLite does): the list's order and its cursors do not depend on the
// database's locale. History entries and rule states are JSON kept as written.
export const ALERTS_PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE alerts (
        id TEXT COLLATE "C" PRIMARY KEY,
        rule TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        station TEXT, device TEXT, zone TEXT, district TEXT,
        severity TEXT NOT NULL,
        level INTEGER,
        value DOUBLE PRECISION, threshold DOUBLE PRECISION, unit TEXT,
        state TEXT NOT NULL,
        title TEXT NOT NULL,
        late BOOLEAN NOT NULL DEFAULT false,
        opened_at TEXT COLLATE "C" NOT NULL,
        updated_at TEXT COLLATE "C" NOT NULL,
        acked_by TEXT, acked_at TEXT, ack_note TEXT,
        resolved_by TEXT, resolved_at TEXT, resolve_note TEXT,
        escalated_tier INTEGER NOT NULL DEFAULT 1,
        attention_since BIGINT NOT NULL
      );
      -- One active alert per (rule, subject), whichever node opens it: a second open does nothing.
      CREATE UNIQUE INDEX alerts_one_active ON alerts(rule, subject) WHERE state <> 'resolved';
      CREATE INDEX alerts_state ON alerts(state, updated_at);
      CREATE INDEX alerts_newest ON alerts(updated_at DESC, id DESC);
      CREATE TABLE alert_history (
        alert_id TEXT COLLATE "C" NOT NULL REFERENCES alerts(id),
        seq INTEGER NOT NULL,
        entry JSON NOT NULL,
        PRIMARY KEY (alert_id, seq)
      );
      CREATE TABLE alert_rule_state (
        rule TEXT NOT NULL,
        subject TEXT NOT NULL,
        state JSON NOT NULL,
        PRIMARY KEY (rule, subject)
      );
    `,
  },
]
