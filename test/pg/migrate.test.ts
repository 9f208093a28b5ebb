import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { migratePg, type PgMigration } from '../../gateway/pg/migrate.ts'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { requirePostgres, usePostgres } from '../support/postgres.ts'
import { waitFor } from '../support/services.ts'
import { TEST_MIGRATIONS, TEST_TABLE } from './fixtures/migrations.ts'

// gateway/pg/migrate.ts: several nodes starting at once on an empty database apply each version
// exactly once (docs/operations.md "Several nodes", "PostgreSQL and leases").

const NODE_SCRIPT = fileURLToPath(new URL('./fixtures/migrate-node.ts', import.meta.url))
const logger = pino({ level: 'silent' })

interface NodeProc {
  proc: ChildProcessWithoutNullStreams
  out: string
  done: Promise<number | null>
}

function startNode(url: string): NodeProc {
  const proc = spawn(process.execPath, ['--import', 'tsx', NODE_SCRIPT, url], { stdio: 'pipe' })
  const node: NodeProc = {
    proc,
    out: '',
    done: new Promise((resolve) => proc.once('exit', (code) => resolve(code))),
  }
  proc.stdout.on('data', (b: Buffer) => (node.out += b.toString()))
  proc.stderr.on('data', (b: Buffer) => (node.out += b.toString()))
  return node
}

async function versions(url: string, table = TEST_TABLE): Promise<number[]> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    const r = await c.query<{ version: number }>(`SELECT version FROM ${table} ORDER BY version`)
    return r.rows.map((x) => x.version)
  } finally {
    await c.end()
  }
}

describe.skipIf(!requirePostgres())('migratePg on a real PostgreSQL', () => {
  const pgi = usePostgres()

  it('3 node processes and 10 pools starting at once apply each version exactly once', async () => {
    const url = await pgi.createDatabase()
    const nodes = [startNode(url), startNode(url), startNode(url)]
    const pools = Array.from({ length: 10 }, (_, i) => openPgPool(url, { logger, applicationName: `pool-${i}`, max: 2 }))
    try {
      // Every participant holds an open connection before the start signal, so they really race.
      await Promise.all(pools.map((p) => p.query('SELECT 1')))
      await waitFor(() => nodes.every((n) => n.out.includes('ready')), 60_000)
      for (const n of nodes) n.proc.stdin.write('go\n')
      const inProcess = await Promise.allSettled(pools.map((p) => migratePg(p, TEST_MIGRATIONS, TEST_TABLE)))
      const codes = await Promise.all(nodes.map((n) => n.done))

      expect(inProcess.filter((r) => r.status === 'rejected')).toEqual([])
      for (const n of nodes) expect(n.out).toMatch(/^ready\nok\n$/)
      expect(codes).toEqual([0, 0, 0])
      expect(await versions(url)).toEqual([1, 2, 3])
      const applied = await pools[0]!.query<{ version: number }>('SELECT version FROM demo_applied ORDER BY version')
      expect(applied.rows.map((r) => r.version)).toEqual([2, 3])
      const cols = await pools[0]!.query<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns WHERE table_name = 'demo_items' ORDER BY ordinal_position`,
      )
      expect(cols.rows.map((r) => r.column_name)).toEqual(['id', 'name', 'note'])

      // A re-run is a no-op.
      await migratePg(pools[1]!, TEST_MIGRATIONS, TEST_TABLE)
      expect(await versions(url)).toEqual([1, 2, 3])
      const again = await pools[0]!.query('SELECT count(*)::int AS n FROM demo_applied')
      expect(again.rows[0].n).toBe(2)
    } finally {
      for (const n of nodes) n.proc.kill('SIGKILL')
      await Promise.all(pools.map((p) => p.end()))
    }
  })

  it('a failing migration rolls back and leaves its version unrecorded', async () => {
    const url = await pgi.createDatabase()
    const pool = openPgPool(url, { logger })
    try {
      await migratePg(pool, TEST_MIGRATIONS.slice(0, 1), TEST_TABLE)
      const bad: PgMigration[] = [
        ...TEST_MIGRATIONS.slice(0, 2),
        { version: 3, sql: `CREATE TABLE demo_half (id integer); SELECT no_such_column FROM demo_items` },
      ]
      await expect(migratePg(pool, bad, TEST_TABLE)).rejects.toThrow(/version 3 failed: .*no_such_column/)
      // Nothing of the failed run stays: neither version 2 (same run) nor version 3's first statement.
      expect(await versions(url)).toEqual([1])
      const half = await pool.query(`SELECT to_regclass('demo_half') AS t`)
      expect(half.rows[0].t).toBeNull()
      const cols = await pool.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'demo_items' AND column_name = 'note'`)
      expect(cols.rowCount).toBe(0)

      // The pool is still usable and the fixed list applies.
      await migratePg(pool, TEST_MIGRATIONS, TEST_TABLE)
      expect(await versions(url)).toEqual([1, 2, 3])
    } finally {
      await pool.end()
    }
  })

  it('each capability has its own tracking table and lock', async () => {
    const url = await pgi.createDatabase()
    const pool = openPgPool(url, { logger })
    try {
      await Promise.all([
        migratePg(pool, [{ version: 1, sql: 'CREATE TABLE a_things (id int)' }], 'a_schema_migrations'),
        migratePg(pool, [{ version: 1, sql: 'CREATE TABLE b_things (id int)' }], 'b_schema_migrations'),
      ])
      expect(await versions(url, 'a_schema_migrations')).toEqual([1])
      expect(await versions(url, 'b_schema_migrations')).toEqual([1])
      await expect(migratePg(pool, [], 'Bad-Name')).rejects.toThrow(/bad tracking table name/)
      await expect(
        migratePg(
          pool,
          [
            { version: 1, sql: 'SELECT 1' },
            { version: 1, sql: 'SELECT 2' },
          ],
          'c_schema_migrations',
        ),
      ).rejects.toThrow(/listed twice/)
    } finally {
      await pool.end()
    }
  })

  it('an idle client losing its server does not crash the process', async () => {
    const url = await pgi.createDatabase()
    const pool = openPgPool(url, { logger })
    try {
      await pool.query('SELECT 1')
      expect(pool.idleCount).toBe(1)
      // Ends the idle session from the server side: the pool gets an 'error' on an idle client.
      const admin = new pg.Client({ connectionString: pgi.url })
      await admin.connect()
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [new URL(url).pathname.slice(1)])
      await admin.end()
      await waitFor(() => pool.idleCount === 0, 10_000)
      const r = await pool.query<{ one: number }>('SELECT 1 AS one')
      expect(r.rows[0]!.one).toBe(1)
    } finally {
      await pool.end()
    }
  })
})
