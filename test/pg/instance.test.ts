import { existsSync } from 'node:fs'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { requirePostgres, startPostgres } from '../support/postgres.ts'

// test/support/postgres.ts itself: durability tests rely on kill() being a crash that loses no
// committed row, and on start() bringing the same data back on the same port.

describe.skipIf(!requirePostgres())('throwaway PostgreSQL for tests', () => {
  it('keeps committed rows across a SIGKILL and a restart; stop() removes everything', async () => {
    const pgi = await startPostgres()
    try {
      expect(pgi.url).toBe(`postgres://postgres@127.0.0.1:${pgi.port}/postgres`)
      const url = await pgi.createDatabase()
      const c = new pg.Client({ connectionString: url })
      await c.connect()
      await c.query('CREATE TABLE t (x integer)')
      await c.query('INSERT INTO t VALUES (1), (2)')
      await c.end()

      await pgi.kill()
      const down = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
      await expect(down.connect()).rejects.toThrow()

      await pgi.start()
      const d = new pg.Client({ connectionString: url })
      await d.connect()
      const r = await d.query<{ x: number }>('SELECT x FROM t ORDER BY x')
      expect(r.rows.map((row) => row.x)).toEqual([1, 2])
      await d.end()
    } finally {
      await pgi.stop()
    }
    expect(existsSync(pgi.dir)).toBe(false)
  })
})
