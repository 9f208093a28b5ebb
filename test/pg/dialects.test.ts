import { join } from 'node:path'
import Database from 'better-sqlite3'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { openAlertsDb } from '../../gateway/alerts/db.ts'
import { ALERTS_PG_MIGRATIONS, ALERTS_PG_MIGRATIONS_TABLE } from '../../gateway/alerts/postgres/migrations.ts'
import { openNotifyDb } from '../../gateway/notify/db.ts'
import { NOTIFY_PG_MIGRATIONS, NOTIFY_PG_MIGRATIONS_TABLE } from '../../gateway/notify/postgres/migrations.ts'
import { migratePg } from '../../gateway/pg/migrate.ts'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { REGISTRY_PG_MIGRATIONS, REGISTRY_PG_MIGRATIONS_TABLE } from '../../gateway/registry/postgres/migrations.ts'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import { openDetectionLog } from '../../gateway/vision/detection-log.ts'
import { VISION_PG_MIGRATIONS, VISION_PG_MIGRATIONS_TABLE } from '../../gateway/vision/postgres/migrations.ts'
import { WEBHOOKS_PG_MIGRATIONS, WEBHOOKS_PG_MIGRATIONS_TABLE } from '../../gateway/webhooks/postgres/migrations.ts'
import { requirePostgres, usePostgres } from '../support/postgres.ts'
import { tempDir } from '../support/services.ts'

// The stores that exist in both dialects (registry, alerts, notify, webhooks, the vision detection log:
// docs/operations.md "Several nodes") have a migration list per dialect; the tables both hold are written once
// (gateway/util/sql-types.ts), and whatever is written per dialect must not drift either: every
// table of a single node's SQLite files has its PostgreSQL twin with the same columns, and the
// differences are the ones named here, each for a reason.

/** SQLite table → its PostgreSQL name, where the shared database needs a capability's prefix. */
const PG_NAME: Record<string, string> = {
  rule_state: 'alert_rule_state',
  contacts: 'notify_contacts',
  outbox: 'notify_outbox',
  provider_tokens: 'notify_provider_tokens',
}

/** Columns only PostgreSQL has: who holds a claim, across nodes; which node analysed a frame. */
const PG_ONLY_COLUMNS: Record<string, string[]> = {
  notify_outbox: ['claimed_by', 'claimed_until'],
  webhook_deliveries: ['claimed_by', 'claimed_until'],
  vision_detections: ['node'],
}

/** PostgreSQL tables no single node has: the cluster's own bookkeeping. */
const PG_ONLY: Record<string, string> = {
  registry_server_key: "the fingerprint of the key every node hashes secrets with (a single node's key is its own file)",
  notify_contacts_seeded: 'which node copied its contacts in, once (docs/operations.md "Contacts across nodes")',
  webhooks_seeded: 'which node copied its subscriptions and pending deliveries in, once (docs/operations.md "Webhooks across nodes")',
  registry_seeded: 'which node copied its registry.db in, once (docs/operations.md "Registry in PostgreSQL")',
  alerts_seeded: 'which node copied its alert state in, once (docs/operations.md "Alerts in PostgreSQL")',
  vision_detections_seeded: 'which node copied its detection records in, once (docs/operations.md "Cameras across nodes")',
}

const run = requirePostgres()

describe.runIf(run)('the SQLite and PostgreSQL tables of one store', () => {
  const pgi = usePostgres()

  it('have the same columns, but for the differences named in this test', async () => {
    const dir = tempDir('iocgw-dialects-')
    openAlertsDb(dir.path)
    openNotifyDb(dir.path)
    await openRegistry(dir.path).close()
    openDetectionLog(join(dir.path, 'vision.sqlite')).close()
    const sqlite = new Map<string, string[]>()
    for (const file of ['alerts.db', 'registry.db', 'vision.sqlite']) {
      const db = new Database(join(dir.path, file), { readonly: true })
      try {
        const tables = db
          .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%schema_migrations'",
          )
          .all() as Array<{ name: string }>
        for (const { name } of tables)
          sqlite.set(
            name,
            (db.prepare(`PRAGMA table_info(${name})`).all() as Array<{ name: string }>).map((c) => c.name),
          )
      } finally {
        db.close()
      }
    }

    const pool = openPgPool(await pgi.createDatabase(), { logger: pino({ level: 'silent' }) })
    const postgres = new Map<string, string[]>()
    try {
      await migratePg(pool, REGISTRY_PG_MIGRATIONS, REGISTRY_PG_MIGRATIONS_TABLE)
      await migratePg(pool, ALERTS_PG_MIGRATIONS, ALERTS_PG_MIGRATIONS_TABLE)
      await migratePg(pool, NOTIFY_PG_MIGRATIONS, NOTIFY_PG_MIGRATIONS_TABLE)
      await migratePg(pool, WEBHOOKS_PG_MIGRATIONS, WEBHOOKS_PG_MIGRATIONS_TABLE)
      await migratePg(pool, VISION_PG_MIGRATIONS, VISION_PG_MIGRATIONS_TABLE)
      const cols = await pool.query<{ table_name: string; column_name: string }>(
        `SELECT table_name, column_name FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name NOT LIKE '%schema_migrations' ORDER BY table_name, ordinal_position`,
      )
      for (const r of cols.rows) postgres.set(r.table_name, [...(postgres.get(r.table_name) ?? []), r.column_name])
    } finally {
      await pool.end()
    }

    const twins = [...sqlite.keys()]
    expect(new Set([...postgres.keys()].filter((t) => !(t in PG_ONLY)))).toEqual(new Set(twins.map((t) => PG_NAME[t] ?? t)))
    for (const t of Object.keys(PG_ONLY)) expect(postgres.has(t), `${t} is in PostgreSQL`).toBe(true)
    for (const t of twins) {
      const p = PG_NAME[t] ?? t
      const extra = PG_ONLY_COLUMNS[p] ?? []
      expect({ table: t, columns: [...postgres.get(p)!].filter((c) => !extra.includes(c)).sort() }).toEqual({
        table: t,
        columns: [...sqlite.get(t)!].sort(),
      })
      for (const c of extra) expect(postgres.get(p), `${p}.${c}`).toContain(c)
    }
  })
})
