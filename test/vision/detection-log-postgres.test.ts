import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { inTransaction } from '../../gateway/pg/transaction.ts'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { VISION_PG_MIGRATIONS } from '../../gateway/vision/postgres/migrations.ts'
import { openPostgresDetectionLog } from '../../gateway/vision/postgres/detection-log.ts'
import { requirePostgres, usePostgres } from '../support/postgres.ts'
import { detectionLogContract, record, T0 } from './detection-log-contract.ts'

// The detection log in PostgreSQL (docs/operations.md "Cameras across nodes"): the same contract
// as vision.sqlite's, on a real PostgreSQL 15; and what several nodes sharing it need: the
// migrations applied once by nodes starting together, a record of one node listed by another, and
// a record written in a transaction (the camera lease's fencing one) kept only if it commits.

const logger = pino({ level: 'silent' })

describe.skipIf(!requirePostgres())('detection log in PostgreSQL', () => {
  const server = usePostgres()

  /** One node: its own pool on the shared database. */
  async function node(url: string, nodeId: string) {
    const pool = openPgPool(url, { logger, max: 2 })
    const log = await openPostgresDetectionLog(pool, { nodeId })
    return { pool, log, close: () => pool.end() }
  }

  detectionLogContract('PostgreSQL', async () => {
    const n = await node(await server.createDatabase(), 'node-a')
    return { log: n.log, dispose: n.close }
  })

  it('nodes starting together apply the migrations once; a record put through one is listed by the other, with the node that wrote it', async () => {
    const url = await server.createDatabase()
    const [a, b] = await Promise.all([node(url, 'node-a'), node(url, 'node-b')])
    try {
      const v = await a.pool.query<{ version: number }>('SELECT version FROM vision_schema_migrations ORDER BY version')
      expect(v.rows.map((r) => r.version)).toEqual(VISION_PG_MIGRATIONS.map((m) => m.version))
      await a.log.put(record('cam-1', T0), T0)
      expect((await b.log.list('cam-1', T0, T0 + 1, 10)).items).toEqual([record('cam-1', T0)])
      // A frame stored again by the camera's next holder (a replay after a takeover) is that node's.
      await b.log.put(record('cam-1', T0, 5), T0)
      const rows = await a.pool.query<{ node: string; n: string }>('SELECT node, count(*) AS n FROM vision_detections GROUP BY node')
      expect(rows.rows).toEqual([{ node: 'node-b', n: '1' }])
      expect((await a.log.list('cam-1', T0, T0 + 1, 10)).items).toEqual([record('cam-1', T0, 5)])
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('a record put in a transaction is kept only if the transaction commits', async () => {
    const n = await node(await server.createDatabase(), 'node-a')
    try {
      await expect(
        inTransaction(n.pool, async (client) => {
          await n.log.put(record('cam-1', T0), T0, client)
          throw new Error('lease taken over')
        }),
      ).rejects.toThrow('lease taken over')
      await inTransaction(n.pool, (client) => n.log.put(record('cam-1', T0 + 1000), T0 + 1000, client))
      expect((await n.log.list('cam-1', T0, T0 + 10_000, 10)).items).toEqual([record('cam-1', T0 + 1000)])
    } finally {
      await n.close()
    }
  })
})
