import { queuedColumns, type SqlTypes } from '../util/sql-types.ts'

// The alerts' tables as both of their databases hold them (alerts.db, ./db.ts; PostgreSQL in
// cluster mode, ./postgres/migrations.ts): one definition, so both stores answer the same alerts.
// Released migrations run these: a changed table is a new migration in both lists, never an edit here.

/** Alerts, their history, and rule state (`ruleState`: PostgreSQL's shared database names it alert_rule_state). */
export const alertTables = (t: SqlTypes, ruleState: string): string => `
      CREATE TABLE alerts (
        id ${t.key} PRIMARY KEY,
        rule TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        station TEXT, device TEXT, zone TEXT, district TEXT,
        severity TEXT NOT NULL,
        level INTEGER,
        value ${t.real}, threshold ${t.real}, unit TEXT,
        state TEXT NOT NULL,
        title TEXT NOT NULL,
        late ${t.flag} NOT NULL DEFAULT ${t.flagFalse},
        opened_at ${t.key} NOT NULL,
        updated_at ${t.key} NOT NULL,
        acked_by TEXT, acked_at TEXT, ack_note TEXT,
        resolved_by TEXT, resolved_at TEXT, resolve_note TEXT,
        escalated_tier INTEGER NOT NULL DEFAULT 1,
        attention_since ${t.int64} NOT NULL
      );
      -- One active alert per (rule, subject), whichever node opens it: a second open does nothing.
      CREATE UNIQUE INDEX alerts_one_active ON alerts(rule, subject) WHERE state != 'resolved';
      CREATE INDEX alerts_state ON alerts(state, updated_at);
      CREATE TABLE alert_history (
        alert_id ${t.key} NOT NULL REFERENCES alerts(id),
        seq INTEGER NOT NULL,
        entry ${t.jsonText} NOT NULL,
        PRIMARY KEY (alert_id, seq)
      );
      CREATE TABLE ${ruleState} (
        rule TEXT NOT NULL,
        subject TEXT NOT NULL,
        state ${t.jsonText} NOT NULL,
        PRIMARY KEY (rule, subject)
      );`

/**
 * Webhook subscriptions and their deliveries (gateway/webhooks). alerts.db's version 3 created
 * them next to the alerts, so that a change and its deliveries commit in one transaction; the
 * shared database numbers deliveries in 64 bits and adds the claim of the node sending one.
 */
export const webhookTables = (t: SqlTypes, o: { deliveryNumber: string; claim: string }): string => `
      CREATE TABLE webhooks (
        id ${t.key} PRIMARY KEY,
        url TEXT NOT NULL,
        events TEXT NOT NULL,
        secret TEXT NOT NULL,
        description TEXT,
        enabled ${t.flag} NOT NULL DEFAULT ${t.flagTrue},
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        disabled_at TEXT, disabled_reason TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE webhook_deliveries (
        n ${o.deliveryNumber},
        id TEXT NOT NULL UNIQUE,
        webhook_id ${t.key} NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        event_id TEXT NOT NULL,
        event TEXT NOT NULL,
        ordering_key TEXT NOT NULL,
        body TEXT NOT NULL,
        ${queuedColumns(t)}
        delivered_at ${t.int64},
        last_status INTEGER,
        last_error TEXT,${o.claim}
        UNIQUE (webhook_id, event_id)
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_at);
      CREATE INDEX webhook_deliveries_order ON webhook_deliveries(webhook_id, ordering_key, n);`
