import type pg from 'pg'
import type { Logger } from '../log/logger.ts'
import { lockForTransaction } from './advisory-lock.ts'
import { inTransaction } from './transaction.ts'

export interface SeedOnceOptions<K extends string> {
  /** The advisory lock nodes starting together take in turn (pg/advisory-lock.ts). */
  lock: string
  /**
   * The record: a table of `node TEXT` and one INTEGER column per count (`at` defaulted), whose one
   * row says which node copied how many. A name from code, never from input: it is put in the SQL.
   */
  record: string
  nodeId: string
  /** Copies this node's own rows on the seeding transaction's connection; answers the counts to record. */
  copy: (c: pg.PoolClient) => Promise<Record<K, number>>
  log: Logger
  /** The info line logged with the counts (never the rows: they may hold secrets). */
  message: string
}

/**
 * The first start of a cluster (docs/operations.md "Several nodes"): the first node to get here
 * copies its own alerts.db rows into PostgreSQL, once across nodes. A node moved from running alone
 * keeps what it had; the others' rows are not merged in (they would repeat or contradict the
 * first's). Whether it was done is the record's row, not whether the table is empty, so a table
 * emptied later is not filled again at the next start. Copy and record commit together under the
 * lock: nodes starting together wait in turn and find the row. Answers the counts, or undefined
 * when another node (or an earlier start) seeded.
 */
export async function seedOnce<K extends string>(pool: pg.Pool, o: SeedOnceOptions<K>): Promise<Record<K, number> | undefined> {
  return inTransaction(pool, async (c) => {
    await lockForTransaction(c, o.lock)
    if ((await c.query(`SELECT 1 FROM ${o.record} LIMIT 1`)).rowCount) return undefined
    const counts = await o.copy(c)
    const columns = Object.keys(counts) as K[]
    await c.query(`INSERT INTO ${o.record} (node, ${columns.join(', ')}) VALUES ($1, ${columns.map((_, i) => `$${i + 2}`).join(', ')})`, [
      o.nodeId,
      ...columns.map((k) => counts[k]),
    ])
    const fields: Record<string, number> = counts
    o.log.info(fields, o.message)
    return counts
  })
}
