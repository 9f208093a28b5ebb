import type pg from 'pg'
import { RegistryError, type Actor } from '../types.ts'
import { inTransaction } from '../../pg/transaction.ts'

/** A pool or a client inside a transaction: both run queries. */
export type Db = Pick<pg.Pool | pg.PoolClient, 'query'>

/** Writes an audit entry inside the change's transaction. */
export type PgAudit = (db: Db, actor: Actor, action: string, target: string, detail: Record<string, unknown> | null) => Promise<void>

/** Runs `fn` in one transaction on one pooled client, then what it left for after the commit. */
export async function inTx<T>(pool: pg.Pool, fn: (db: pg.PoolClient) => Promise<T>): Promise<T> {
  // What must happen only once the change is durable (revocations.ts: this node's own listeners).
  const afterCommit: Array<() => void> = []
  try {
    const out = await inTransaction(pool, async (client) => {
      try {
        return await fn(Object.assign(client, { afterCommit }))
      } finally {
        delete (client as { afterCommit?: unknown }).afterCommit
      }
    })
    for (const f of afterCommit) f()
    return out
  } catch (err) {
    throw asRegistryError(err)
  }
}

/** A unique constraint broken by a concurrent writer (another node) is the same conflict a check finds. */
export function asRegistryError(err: unknown): unknown {
  if ((err as { code?: string }).code === '23505') {
    const detail = (err as { detail?: string }).detail ?? 'a row with this key already exists'
    return new RegistryError('conflict', `already exists: ${detail}`)
  }
  return err
}
