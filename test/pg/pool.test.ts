import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { requirePostgres, startPostgres, type PgInstance } from '../support/postgres.ts'
import { waitFor } from '../support/services.ts'

// gateway/pg/pool.ts against a real PostgreSQL killed under it (docs/operations.md "Several
// nodes": PostgreSQL down does not stop a node).

const logger = pino({ level: 'silent' })

describe.skipIf(!requirePostgres())('PostgreSQL pool', () => {
  let pgi: PgInstance
  const uncaught: unknown[] = []
  const onUncaught = (err: unknown): void => void uncaught.push(err)

  beforeAll(async () => {
    pgi = await startPostgres()
    process.on('uncaughtException', onUncaught)
  })
  afterAll(async () => {
    process.off('uncaughtException', onUncaught)
    await pgi?.stop()
  })

  it('a client checked out between two queries when PostgreSQL dies fails its next query; the process goes on', async () => {
    const pool = openPgPool(await pgi.createDatabase(), { logger, applicationName: 'pool-test', max: 2 })
    try {
      // A transaction holding its client while it does other work (a fenced write, an alert step).
      const client = await pool.connect()
      await client.query('BEGIN')
      await client.query('SELECT 1')
      await pgi.kill()
      // Every backend ends ("terminating connection due to unexpected postmaster exit") while no
      // query of this client runs: pg emits 'error' on the client. Before, no listener: the error
      // was thrown from the socket's callback and stopped the process (a node gone, /readyz
      // refused, test/cluster/outages.test.ts).
      await new Promise((r) => setTimeout(r, 2_000))
      await expect(client.query('SELECT 1')).rejects.toThrow()
      client.release(true)
      expect(uncaught).toEqual([])
      await pgi.start()
      await waitFor(() => pool.query('SELECT 1').then(() => true), 30_000, 200)
    } finally {
      await pool.end()
    }
  }, 90_000)
})
