import type pg from 'pg'

/**
 * Runs `fn` in one transaction on one pooled client: COMMIT when it resolves, ROLLBACK when it
 * throws. A client that cannot even roll back is handed back as broken, so the pool drops it
 * instead of lending a connection in an unknown state to the next caller.
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    await client.query('BEGIN')
    const out = await fn(client)
    await client.query('COMMIT')
    return out
  } catch (err) {
    await client.query('ROLLBACK').catch((e: Error) => (broken = e))
    throw err
  } finally {
    client.release(broken)
  }
}
