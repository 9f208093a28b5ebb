import type pg from 'pg'
import { pino } from 'pino'
import { afterAll, beforeAll, describe } from 'vitest'
import { openAlertStore } from '../../gateway/alerts/open-store.ts'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { requirePostgres, startPostgres, type PgInstance } from '../support/postgres.ts'
import { tempDir } from '../support/services.ts'
import { alertStoreContract } from './contract.ts'

// The alert store in PostgreSQL (docs/operations.md "Alerts in PostgreSQL"): the same contract as
// alerts.db, on a real PostgreSQL 15.

const logger = pino({ level: 'silent' })
const ok = requirePostgres()
let server: PgInstance

describe.skipIf(!ok)('PostgreSQL alert store', () => {
  beforeAll(async () => {
    server = await startPostgres()
  }, 120_000)
  afterAll(async () => {
    await server?.stop()
  })

  alertStoreContract('PostgreSQL', async () => {
    const url = await server.createDatabase()
    const dir = tempDir()
    const pool: pg.Pool = openPgPool(url, { logger, max: 4 })
    const store = await openAlertStore({ dataDir: dir.path, pool })
    return {
      store,
      async dispose() {
        await store.close()
        await pool.end()
        dir.remove()
      },
    }
  })
})
