import type pg from 'pg'
import type { Logger } from '../log/logger.ts'
import { lockForTransaction } from './advisory-lock.ts'
import { inTransaction } from './transaction.ts'

/** The record's node when the shared tables were found in use with no seed recorded. */
export const IN_USE = '(in use)'

export interface SeedOnceOptions<K extends string> {
  /** The advisory lock nodes starting together take in turn (pg/advisory-lock.ts). */
  lock: string
  /**
   * The record: a table of `node TEXT` and one INTEGER column per count (`at` defaulted), whose one
   * row says which node copied how many. A name from code, never from input: it is put in the SQL.
   */
  record: string
  /** The record's count columns, zero in an IN_USE row. */
  counts: readonly K[]
  nodeId: string
  /** Whether the shared tables already hold rows that no seed put there (asked under the lock). */
  inUse: (c: pg.PoolClient) => Promise<boolean>
  /** Copies this node's own rows on the seeding transaction's connection; answers the counts to record. */
  copy: (c: pg.PoolClient) => Promise<Record<K, number>>
  log: Logger
  /** The info line logged with the counts (never the rows: they may hold secrets). */
  message: string
  /** This node's file, named in the warning when it is not copied ("alerts.db"). */
  source: string
}

/** Which node's rows the record says were copied in. */
export async function seededBy(db: pg.Pool | pg.PoolClient, record: string): Promise<string | undefined> {
  return (await db.query<{ node: string }>(`SELECT node FROM ${record} LIMIT 1`)).rows[0]?.node
}

/**
 * The first start of a cluster (docs/operations.md "Several nodes"): the first node with something
 * of its own to copy (its caller does not call this otherwise, so the node that ran alone still
 * copies when it starts after nodes that have nothing) copies it into PostgreSQL, once across
 * nodes. A node moved from running alone keeps what it had; the others' rows are not merged in
 * (they would repeat or contradict the first's). Whether it was done is the record's row, not
 * whether the tables are empty, so rows removed later are not brought back at the next start.
 * Tables already in use with no record (a cluster that ran before its node with a file started)
 * get nothing, and the record says IN_USE: an old file merged into them would bring back what was
 * removed since, beside what replaced it. Copy and record commit together under the lock: nodes
 * starting together wait in turn and find the row. A node whose rows were not copied says so at
 * each start. Answers the counts, or undefined when nothing was copied.
 */
export async function seedOnce<K extends string>(pool: pg.Pool, o: SeedOnceOptions<K>): Promise<Record<K, number> | undefined> {
  const outcome = await inTransaction(pool, async (c): Promise<{ counts: Record<K, number> } | { by: string }> => {
    await lockForTransaction(c, o.lock)
    const by = await seededBy(c, o.record)
    if (by !== undefined) return { by }
    const inUse = await o.inUse(c)
    const counts = inUse ? (Object.fromEntries(o.counts.map((k) => [k, 0])) as Record<K, number>) : await o.copy(c)
    await c.query(`INSERT INTO ${o.record} (node, ${o.counts.join(', ')}) VALUES ($1, ${o.counts.map((_, i) => `$${i + 2}`).join(', ')})`, [
      inUse ? IN_USE : o.nodeId,
      ...o.counts.map((k) => counts[k]),
    ])
    if (inUse) return { by: IN_USE }
    const fields: Record<string, number> = counts
    o.log.info(fields, o.message)
    return { counts }
  })
  if ('counts' in outcome) return outcome.counts
  if (outcome.by !== o.nodeId)
    o.log.warn(
      { seededBy: outcome.by },
      outcome.by === IN_USE
        ? `this node's ${o.source} was not copied into PostgreSQL: the cluster's tables were in use before a node had it to copy`
        : `this node's ${o.source} was not copied into PostgreSQL: node ${outcome.by} seeded the cluster's tables`,
    )
  return undefined
}
