import { createHash } from 'node:crypto'
import type pg from 'pg'

/**
 * Takes PostgreSQL's transaction-scoped advisory lock named `name` (held until COMMIT or ROLLBACK):
 * how nodes serialise a step that no row can lock (seeding a table, renewing a token, migrating).
 * The 64-bit key is derived with SHA-256 rather than PostgreSQL's hashtext(), whose output is an
 * internal detail that may change between major versions.
 */
export async function lockForTransaction(client: Pick<pg.PoolClient, 'query'>, name: string): Promise<void> {
  const key = createHash('sha256').update(name).digest().readBigInt64BE(0).toString()
  await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [key])
}
