import type pg from 'pg'
import { lockForTransaction } from './advisory-lock.ts'
import { inTransaction } from './transaction.ts'

/** One schema step. Append-only: a released migration is never edited, a change is a new entry. */
export interface PgMigration {
  version: number
  sql: string
}

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/**
 * Applies the migrations that `table` does not yet record, in version order, in ONE transaction:
 * the schema moves from one version to the next as a whole, and a failing step leaves nothing
 * applied and nothing recorded.
 *
 * Several nodes may start at once on an empty database. Each takes a transaction-scoped advisory
 * lock keyed on the table name before anything else, so they run one after the other: the first
 * applies, the rest find every version recorded and commit nothing. The lock also covers
 * CREATE TABLE IF NOT EXISTS of the tracking table, which is not safe on its own when two
 * sessions race (both may pass the existence check and one fails on the catalog's unique index).
 * READ COMMITTED takes a fresh snapshot per statement, so after the lock is granted the versions
 * the previous holder committed are visible.
 */
export async function migratePg(pool: pg.Pool, migrations: readonly PgMigration[], table: string): Promise<void> {
  if (!TABLE_NAME.test(table)) throw new Error(`migratePg: bad tracking table name "${table}"`)
  const seen = new Set<number>()
  for (const m of migrations) {
    if (!Number.isInteger(m.version) || m.version < 1) throw new Error(`migratePg(${table}): bad version ${m.version}`)
    if (seen.has(m.version)) throw new Error(`migratePg(${table}): version ${m.version} listed twice`)
    seen.add(m.version)
  }
  const ordered = [...migrations].sort((a, b) => a.version - b.version)

  await inTransaction(pool, async (client) => {
    await client.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED')
    // Schema changes may take long (index builds) and other nodes wait on the lock meanwhile:
    // the pool's statement timeout would cut both short, so it is lifted for this transaction.
    await client.query('SET LOCAL statement_timeout = 0')
    // One lock per tracking table: each capability's migrations serialise among themselves without blocking the others'.
    await lockForTransaction(client, `iocgw:migrate:${table}`)
    await client.query(`CREATE TABLE IF NOT EXISTS "${table}" (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`)
    const res = await client.query<{ version: number }>(`SELECT version FROM "${table}"`)
    const applied = new Set(res.rows.map((r) => r.version))
    for (const m of ordered) {
      if (applied.has(m.version)) continue
      try {
        await client.query(m.sql)
      } catch (err) {
        throw new Error(`migratePg(${table}): version ${m.version} failed: ${(err as Error).message}`, { cause: err })
      }
      await client.query(`INSERT INTO "${table}" (version) VALUES ($1)`, [m.version])
    }
  })
}
