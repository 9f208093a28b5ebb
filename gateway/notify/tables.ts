import { queuedColumns, type SqlTypes } from '../util/sql-types.ts'

// The outbox's columns as both of its databases hold them (alerts.db, ./db.ts; PostgreSQL in
// cluster mode, ./postgres/migrations.ts, which adds the claim of the node working on a row).
// Released migrations run this: a changed table is a new migration in both lists, never an edit here.

/** The outbox's columns: times in epoch ms, alert ids compared byte-wise as in the alerts' tables. */
export const outboxColumns = (t: SqlTypes): string => `
        id ${t.serialKey},
        key TEXT NOT NULL UNIQUE,
        alert_id ${t.key},
        change_seq INTEGER,
        contact_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        severity TEXT NOT NULL,
        message TEXT NOT NULL,
        ${queuedColumns(t)}
        sent_at ${t.int64},
        provider_id TEXT,
        last_error TEXT`
