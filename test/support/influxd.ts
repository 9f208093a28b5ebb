import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, PortTaken, requireCommand, startOnFreePorts, tempDir, waitFor } from './services.ts'
import { useSuiteService } from './suite-service.ts'

// A throwaway real InfluxDB 1.x (Debian's influxdb package) for tests: its own temp dir, free
// ports on 127.0.0.1, no auth, no usage reporting. It can be stopped and started again on the same
// data and ports, or killed, to play an outage.
//
//   const ok = requireInfluxd()              // skip outside CI when influxd is missing
//   describe.skipIf(!ok)('...', () => { ... })
//   const influxd = await startInfluxd()
//   influxd.urlFor('ioc')                   // http://127.0.0.1:PORT/ioc (IOC_INFLUX_URL form)
//   await influxd.stop(); await influxd.start(); await influxd.remove()

export interface Influxd {
  /** http://127.0.0.1:PORT */
  readonly url: string
  readonly port: number
  /** The temp dir holding config, meta, data, wal and influxd.log. */
  readonly dir: string
  /** The URL with a database path, as IOC_INFLUX_URL takes it. */
  urlFor(db: string): string
  readonly running: boolean
  /** Graceful stop (SIGTERM), waits for the process to exit. */
  stop(): Promise<void>
  /** Starts again on the same ports and data, waits for /ping. */
  start(): Promise<void>
  /** SIGKILL, waits for the exit. */
  kill(): Promise<void>
  /**
   * SIGSTOP: influxd keeps its connections but answers nothing, as when it stalls (a long
   * compaction, a disk that stops responding) rather than going away.
   */
  pause(): void
  /** SIGCONT after pause(). */
  resume(): void
  /** Stops it and deletes its directory. */
  remove(): Promise<void>
  /** Runs an InfluxQL query, answers the parsed JSON. */
  query(q: string, db?: string): Promise<InfluxQueryResult>
}

export interface InfluxQueryResult {
  results: Array<{
    series?: Array<{ name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }>
    error?: string
  }>
}

/** One influxd for the calling suite: started before its tests, removed after them. */
export function useInfluxd(): Influxd {
  return useSuiteService('influxd', startInfluxd, (influxd) => influxd.remove(), 60_000)
}

/** Whether tests needing influxd may run (false outside CI when it is missing; throws in CI). */
export function requireInfluxd(): boolean {
  return requireCommand('influxd')
}

export interface InfluxdOptions {
  /** How often continuous queries are checked (InfluxDB's default is 1s). */
  cqRunInterval?: string
}

/**
 * A start whose port another test's influxd answered is tried again (startOnFreePorts): the tests
 * would talk to that one (a stall of "this" influxd then stalls nothing).
 */
export async function startInfluxd(opts: InfluxdOptions = {}): Promise<Influxd> {
  if (!requireInfluxd()) throw new Error('influxd is not installed (Debian package influxdb)')
  return startOnFreePorts(() => startInfluxdOnce(opts))
}

async function startInfluxdOnce(opts: InfluxdOptions): Promise<Influxd> {
  const tmp = tempDir('iocgw-influxd-')
  const port = await freePort()
  const rpcPort = await freePort()
  const dir = tmp.path
  for (const d of ['meta', 'data', 'wal']) mkdirSync(join(dir, d))
  const conf = join(dir, 'influxdb.conf')
  writeFileSync(
    conf,
    `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false

[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  auth-enabled = false
  log-enabled = false

[continuous_queries]
  enabled = true
  log-enabled = false
  run-interval = "${opts.cqRunInterval ?? '1s'}"

[logging]
  level = "warn"
`,
  )

  const url = `http://127.0.0.1:${port}`
  let child: ChildProcess | null = null
  let exited: Promise<void> = Promise.resolve()

  const ping = async (): Promise<boolean> => {
    try {
      const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) })
      return res.status === 204
    } catch {
      return false
    }
  }

  const start = async (): Promise<void> => {
    if (child) return
    const log = openSync(join(dir, 'influxd.log'), 'a')
    const proc = spawn('influxd', ['run', '-config', conf], { stdio: ['ignore', log, log] })
    closeSync(log)
    child = proc
    let exitInfo = ''
    exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        exitInfo = `influxd exited (code ${code}, signal ${signal}); see ${join(dir, 'influxd.log')}`
        if (child === proc) child = null
        resolve()
      })
    })
    // Ends as soon as influxd exits: waiting out the timeout would hide why.
    await waitFor(async () => child !== proc || (await ping()), 30_000, 50)
    if (child === proc) return
    // One of its two ports taken between freePort and its bind (another test's server).
    if (/address already in use/.test(readFileSync(join(dir, 'influxd.log'), 'utf8'))) {
      throw new PortTaken(`influxd: port ${port} or ${rpcPort} taken before it bound`)
    }
    throw new Error(exitInfo)
  }

  const signalAndWait = async (sig: NodeJS.Signals): Promise<void> => {
    const proc = child
    if (!proc) return
    // A paused process would not act on the signal before it is continued.
    proc.kill('SIGCONT')
    proc.kill(sig)
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000).unref())
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      proc.kill('SIGKILL')
      await exited
    }
  }

  try {
    await start()
  } catch (err) {
    if (err instanceof PortTaken) rmSync(dir, { recursive: true, force: true })
    throw err
  }
  // Ours only if a point written through the URL lands in this influxd's own data directory.
  const probe = `own_${process.pid}_${port}`
  const created = await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q: `CREATE DATABASE ${probe}` }) })
  const wrote = created.ok ? await fetch(`${url}/write?db=${probe}`, { method: 'POST', body: 'probe v=1' }) : created
  if (!wrote.ok || !existsSync(join(dir, 'data', probe)) || !child) {
    await signalAndWait('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
    throw new PortTaken(`influxd: port ${port} answered by another server`)
  }
  await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q: `DROP DATABASE ${probe}` }) })

  return {
    url,
    port,
    dir,
    urlFor: (db) => `${url}/${db}`,
    get running() {
      return child !== null
    },
    start,
    stop: () => signalAndWait('SIGTERM'),
    kill: () => signalAndWait('SIGKILL'),
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    remove: async () => {
      await signalAndWait('SIGTERM')
      rmSync(dir, { recursive: true, force: true })
    },
    query: async (q, db) => {
      const params = new URLSearchParams({ q, epoch: 'ms' })
      if (db) params.set('db', db)
      const res = await fetch(`${url}/query`, { method: 'POST', body: params })
      if (!res.ok) throw new Error(`influxd query ${res.status}: ${await res.text()}`)
      return (await res.json()) as InfluxQueryResult
    },
  }
}
