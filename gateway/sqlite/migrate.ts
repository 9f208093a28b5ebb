import type { Database } from 'better-sqlite3'

/** One schema step. Append-only: a released migration is never edited, a change is a new entry. */
export interface Migration {
  version: number
  sql: string
  /**
   * True when what this step makes is already in the database, made before this list owned it (a
   * step moved from another list sharing the file): it is then recorded as applied, not run.
   */
  present?: ((db: Database) => boolean) | undefined
}

/**
 * Applies, each in its own transaction, the migrations this database has not had yet. Lists that
 * share one file (alerts.db holds the alerts' and notify's tables) track their versions in tables
 * of their own (`table`).
 */
export function migrate(db: Database, migrations: readonly Migration[], table = 'schema_migrations'): void {
  if (!/^[a-z_]+$/.test(table)) throw new Error(`migrate: bad table name ${table}`)
  db.exec(`CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`)
  const applied = new Set((db.prepare(`SELECT version FROM ${table}`).all() as Array<{ version: number }>).map((r) => r.version))
  for (const m of migrations) {
    if (applied.has(m.version)) continue
    db.transaction(() => {
      if (!m.present?.(db)) db.exec(m.sql)
      db.prepare(`INSERT INTO ${table} (version, applied_at) VALUES (?, ?)`).run(m.version, new Date().toISOString())
    })()
  }
}
