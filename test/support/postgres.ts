import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync, rmSync, chownSync, writeFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { freePort, requireCommand, tempDir, waitFor } from './services.ts'
import { useSuiteService } from './suite-service.ts'

// A throwaway real PostgreSQL 15 (Debian's postgresql-15) for tests: its own temp dir, a free port
// on 127.0.0.1, trust auth, the unix socket inside the temp dir. fsync stays on: durability tests
// SIGKILL the postmaster and expect committed rows to survive.
//
//   const ok = requirePostgres()             // skip outside CI when PostgreSQL is missing
//   describe.skipIf(!ok)('...', () => { ... })
//   const pg = await startPostgres()
//   const url = await pg.createDatabase()     // a fresh empty database per test
//   await pg.kill(); await pg.start()         // a crash and a restart on the same data and port
//   await pg.stop()                           // shuts down and deletes the directory

export const PG_BIN = '/usr/lib/postgresql/15/bin'

export interface PgInstance {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  url: string
  port: number
  /** The temp dir holding data/, the socket and postgres.log. */
  dir: string
  /** Creates a fresh empty database (a generated name unless given) and answers its URL. */
  createDatabase(name?: string): Promise<string>
  /** Fast shutdown, then deletes the directory: the instance is gone. */
  stop(): Promise<void>
  /** SIGKILL the postmaster (and its backends, as in a crash); data and port are kept for start(). */
  kill(): Promise<void>
  /** Starts again on the same directory and port (after kill()), waits until it accepts queries. */
  start(): Promise<void>
}

/** One PostgreSQL for the calling suite: started before its tests, stopped (and its directory deleted) after them. */
export function usePostgres(): PgInstance {
  return useSuiteService('PostgreSQL', startPostgres, (pg) => pg.stop(), 120_000)
}

/** Whether tests needing PostgreSQL may run (false outside CI when it is missing; throws in CI). */
export function requirePostgres(): boolean {
  return requireCommand(join(PG_BIN, 'initdb'))
}

/** initdb refuses to run as root: the server runs as the postgres system user when we are root. */
function asPgUser(cmd: string, args: string[]): [string, string[]] {
  if (userInfo().uid !== 0) return [cmd, args]
  return ['runuser', ['-u', 'postgres', '--', cmd, ...args]]
}

let dbCounter = 0

export async function startPostgres(): Promise<PgInstance> {
  if (!requirePostgres()) throw new Error(`PostgreSQL 15 is not installed (${PG_BIN}/initdb; Debian package postgresql-15)`)
  const tmp = tempDir('iocgw-pg-')
  const dir = tmp.path
  const data = join(dir, 'data')
  const logFile = join(dir, 'postgres.log')
  if (userInfo().uid === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    chownSync(dir, uid, gid)
  }
  const port = await freePort()

  const [initCmd, initArgs] = asPgUser(join(PG_BIN, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '--encoding=UTF8',
    '--no-locale',
    // Only initdb's own writes skip fsync (a test cluster need not survive a crash during initdb);
    // the running server keeps fsync on.
    '--no-sync',
  ])
  execFileSync(initCmd, initArgs, { stdio: 'pipe' })
  // Small memory settings: many instances may run at once on a small shared test box.
  const conf = [
    `listen_addresses = '127.0.0.1'`,
    `port = ${port}`,
    `unix_socket_directories = '${dir}'`,
    `fsync = on`,
    `synchronous_commit = on`,
    `shared_buffers = 16MB`,
    `max_connections = 200`,
    `log_min_messages = warning`,
    `logging_collector = off`,
  ].join('\n')
  writeFileSync(join(data, 'postgresql.auto.conf'), `${conf}\n`)
  writeFileSync(join(data, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 trust\n')

  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  let child: ChildProcess | null = null
  let exited: Promise<void> = Promise.resolve()

  const postmasterPid = (): number | null => {
    try {
      const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0])
      return Number.isInteger(pid) && pid > 0 ? pid : null
    } catch {
      return null
    }
  }

  const ready = async (): Promise<boolean> => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 })
    c.on('error', () => {})
    try {
      await c.connect()
      await c.query('SELECT 1')
      return true
    } catch {
      return false
    } finally {
      await c.end().catch(() => {})
    }
  }

  const start = async (): Promise<void> => {
    if (child) return
    const log = openSync(logFile, 'a')
    const [cmd, args] = asPgUser(join(PG_BIN, 'postgres'), ['-D', data])
    // Its own process group, so kill() can take the postmaster and every backend down at once.
    const proc = spawn(cmd, args, { stdio: ['ignore', log, log], detached: true })
    closeSync(log)
    child = proc
    let exitInfo = ''
    exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        exitInfo = `postgres exited (code ${code}, signal ${signal}); see ${logFile}`
        if (child === proc) child = null
        resolve()
      })
    })
    await waitFor(
      async () => {
        if (child !== proc) throw new Error(exitInfo)
        return ready()
      },
      60_000,
      100,
    )
  }

  const groupAlive = (pgid: number): boolean => {
    try {
      process.kill(-pgid, 0)
      return true
    } catch {
      return false
    }
  }

  const kill = async (): Promise<void> => {
    const proc = child
    if (!proc || proc.pid === undefined) return
    const pgid = proc.pid
    const pid = postmasterPid()
    if (pid !== null) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        /* already gone */
      }
    }
    // Orphaned backends would keep the shared memory block and stop a restart: take the group.
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {
      /* already gone */
    }
    await exited
    await waitFor(() => !groupAlive(pgid), 30_000, 50)
  }

  const stop = async (): Promise<void> => {
    const proc = child
    if (proc) {
      const pid = postmasterPid()
      // SIGINT is PostgreSQL's fast shutdown: open sessions are ended instead of waited for.
      if (pid !== null) process.kill(pid, 'SIGINT')
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000).unref())
      if (pid === null || (await Promise.race([exited, timeout])) === 'timeout') await kill()
    }
    process.off('exit', onExit)
    tmp.remove()
  }

  // A test that dies without stop() must not leave a server behind.
  const onExit = (): void => {
    if (child?.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        /* gone */
      }
    }
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true })
  }
  process.on('exit', onExit)

  await start()

  const createDatabase = async (name?: string): Promise<string> => {
    const db = name ?? `t_${process.pid}_${++dbCounter}_${Math.random().toString(36).slice(2, 8)}`
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(db)) throw new Error(`createDatabase: bad database name "${db}"`)
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    try {
      await c.query(`CREATE DATABASE "${db}"`)
    } finally {
      await c.end()
    }
    return `postgres://postgres@127.0.0.1:${port}/${db}`
  }

  return { url, port, dir, createDatabase, stop, kill, start }
}
