import Database from 'better-sqlite3'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createAlerting } from '../../gateway/alerts/engine.ts'
import { parseRules } from '../../gateway/alerts/rules.ts'
import { createNotifier } from '../../gateway/notify/notifier.ts'
import type { Channel } from '../../gateway/notify/types.ts'
import { tempDir } from '../support/services.ts'
import { gauge, metrics, quietLogger, stations } from '../alerts/helpers.ts'

// Notify owns its tables in alerts.db with a migration list of its own (gateway/notify/db.ts,
// tracked in notify_schema_migrations). Databases made when alerts.db's versions 1 and 2 created
// those tables must open as they are, their contacts and outbox kept, in either opening order.

const T0 = Date.parse('2026-11-20T03:00:00Z')
// Nothing is sent (the notifier is not started): the rows are what is checked.
const sms: Channel = { name: 'sms', dedupByKey: true, send: () => Promise.resolve({ ok: true, providerId: 'p' }) }

/** alerts.db as the gateway left it at schema version `upTo` (1: before quiet hours; 3: with webhooks). */
function oldDatabase(file: string, upTo: 1 | 3): void {
  const db = new Database(file)
  db.exec(`
    CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
    CREATE TABLE alerts (id TEXT PRIMARY KEY, rule TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,
      station TEXT, device TEXT, zone TEXT, district TEXT, severity TEXT NOT NULL, level INTEGER,
      value REAL, threshold REAL, unit TEXT, state TEXT NOT NULL, title TEXT NOT NULL, late INTEGER NOT NULL DEFAULT 0,
      opened_at TEXT NOT NULL, updated_at TEXT NOT NULL, acked_by TEXT, acked_at TEXT, ack_note TEXT,
      resolved_by TEXT, resolved_at TEXT, resolve_note TEXT, escalated_tier INTEGER NOT NULL DEFAULT 1, attention_since INTEGER NOT NULL);
    CREATE UNIQUE INDEX alerts_one_active ON alerts(rule, subject) WHERE state != 'resolved';
    CREATE INDEX alerts_state ON alerts(state, updated_at);
    CREATE TABLE alert_history (alert_id TEXT NOT NULL REFERENCES alerts(id), seq INTEGER NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (alert_id, seq));
    CREATE TABLE rule_state (rule TEXT NOT NULL, subject TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (rule, subject));
    CREATE TABLE contacts (id TEXT PRIMARY KEY, name TEXT NOT NULL, phone TEXT, zalo_user_id TEXT, role TEXT NOT NULL,
      tier INTEGER NOT NULL DEFAULT 1, kinds TEXT, stations TEXT, districts TEXT, min_severity TEXT NOT NULL,
      channels TEXT NOT NULL, created_at TEXT NOT NULL);
    CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, alert_id TEXT, change_seq INTEGER,
      contact_id TEXT NOT NULL, channel TEXT NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL, state TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, created_at INTEGER NOT NULL, sent_at INTEGER,
      provider_id TEXT, last_error TEXT);
    CREATE INDEX outbox_due ON outbox(state, next_at);
    CREATE INDEX outbox_contact_sent ON outbox(contact_id, sent_at);
    CREATE TABLE provider_tokens (provider TEXT PRIMARY KEY, access_token TEXT NOT NULL, refresh_token TEXT NOT NULL,
      expires_at INTEGER NOT NULL, updated_at TEXT NOT NULL);
    INSERT INTO schema_migrations VALUES (1, '2026-10-01T00:00:00Z');
    INSERT INTO contacts VALUES ('c-old', 'Trực ban', '0905000001', NULL, 'officer', 1, NULL, NULL, NULL, 'info', '["sms"]', '2026-10-01T00:00:00Z');
    INSERT INTO outbox (key, contact_id, channel, severity, message, state, next_at, created_at, sent_at)
      VALUES ('old:1', 'c-old', 'sms', 'info', '{"text":"x","summary":"x"}', 'sent', 1, 1, 1);
  `)
  if (upTo === 3) {
    db.exec(`
      ALTER TABLE contacts ADD COLUMN quiet_hours TEXT;
      CREATE INDEX outbox_alert ON outbox(alert_id);
      CREATE TABLE webhooks (id TEXT PRIMARY KEY, url TEXT NOT NULL, events TEXT NOT NULL, secret TEXT NOT NULL, description TEXT,
        enabled INTEGER NOT NULL DEFAULT 1, consecutive_failures INTEGER NOT NULL DEFAULT 0, disabled_at TEXT, disabled_reason TEXT,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE webhook_deliveries (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
        webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE, event_id TEXT NOT NULL, event TEXT NOT NULL,
        ordering_key TEXT NOT NULL, body TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL, created_at INTEGER NOT NULL, delivered_at INTEGER, last_status INTEGER, last_error TEXT,
        UNIQUE (webhook_id, event_id));
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_at);
      CREATE INDEX webhook_deliveries_order ON webhook_deliveries(webhook_id, ordering_key, n);
      INSERT INTO schema_migrations VALUES (2, '2026-10-02T00:00:00Z'), (3, '2026-10-03T00:00:00Z');
    `)
  }
  db.close()
}

describe('alerts.db with notify tables made by the alerts migrations', () => {
  let dir: ReturnType<typeof tempDir>
  beforeEach(async () => {
    dir = tempDir()
  })
  afterEach(() => dir.remove())

  const open = (notifyFirst: boolean) => {
    const n = () =>
      createNotifier({
        dataDir: dir.path,
        logger: quietLogger(),
        metrics: metrics(),
        config: {},
        channels: { sms },
        start: false,
        now: () => T0,
      })
    const a = () =>
      createAlerting({
        dataDir: dir.path,
        logger: quietLogger(),
        metrics: metrics(),
        stations: stations(),
        now: () => T0,
        rules: parseRules({ version: 1, rules: [{ id: 'wl', type: 'water_alarm', min_duration_s: 0 }] }),
      })
    if (notifyFirst) {
      const notifier = n()
      return { notifier, alerting: a() }
    }
    const alerting = a()
    return { notifier: n(), alerting }
  }

  for (const [upTo, notifyFirst] of [
    [3, true],
    [3, false],
    [1, true],
  ] as const) {
    it(`opens a version ${upTo} database (${notifyFirst ? 'notify' : 'alerts'} first), keeps its rows and routes new changes`, async () => {
      oldDatabase(join(dir.path, 'alerts.db'), upTo)
      const { notifier, alerting } = open(notifyFirst)
      try {
        expect(notifier.contacts.get('c-old')).toMatchObject({ name: 'Trực ban', phone: '0905000001' })
        expect((await notifier.outbox()).map((r) => r.key)).toEqual(['old:1'])
        alerting.setRouter(notifier)
        await alerting.handleReading(gauge('kim-long', T0, 2.5))
        expect(await notifier.outbox({ state: 'pending' })).toHaveLength(1)
        const versions = (table: string) =>
          (alerting.db.prepare(`SELECT version FROM ${table} ORDER BY version`).all() as Array<{ version: number }>).map((r) => r.version)
        expect(versions('schema_migrations')).toEqual([1, 2, 3])
        expect(versions('notify_schema_migrations')).toEqual([1, 2])
      } finally {
        await alerting.close()
        await notifier.close()
      }
    })
  }

  it('creates notify tables in a fresh database whichever capability opens it first', async () => {
    for (const notifyFirst of [false, true]) {
      const sub = tempDir()
      dir.remove()
      dir = sub
      const { notifier, alerting } = open(notifyFirst)
      try {
        await notifier.contacts.create({ name: 'A', phone: '0905123456', role: 'officer', channels: ['sms'] })
        alerting.setRouter(notifier)
        await alerting.handleReading(gauge('kim-long', T0, 2.5))
        expect(await notifier.outbox({ state: 'pending' })).toHaveLength(1)
      } finally {
        await alerting.close()
        await notifier.close()
      }
    }
  })
})
