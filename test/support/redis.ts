import { spawn, type ChildProcess } from 'node:child_process'
import { connect } from 'node:net'
import { freePort, PortTaken, requireCommand, startOnFreePorts, tempDir, waitFor } from './services.ts'

// A throwaway real redis-server (Debian's redis-server package) for tests: its own temp dir, a
// free port on 127.0.0.1, no persistence to disk. It can be stopped and started again on the
// same port (an outage), or killed.
//
//   const ok = requireRedis()                 // skip outside CI when redis-server is missing
//   describe.skipIf(!ok)('...', () => { ... })
//   const redis = await startRedis()
//   redis.url                                 // redis://127.0.0.1:PORT (IOC_REDIS_URL form)
//   await redis.stop(); await redis.start(); await redis.kill()

export interface RedisServer {
  readonly url: string
  readonly port: number
  readonly running: boolean
  /** SIGTERM, waits for the exit, removes the temp dir. */
  stop(): Promise<void>
  /** SIGKILL, waits for the exit (the temp dir stays; stop() or start() later). */
  kill(): Promise<void>
  /** Starts again on the same port (empty: nothing is saved to disk). */
  start(): Promise<void>
}

/** Whether tests needing redis-server may run (false outside CI when it is missing; throws in CI). */
export function requireRedis(): boolean {
  return requireCommand('redis-server')
}

/** The process id of the server answering on the port (INFO server), once one answers. */
function serverPid(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    let got = ''
    s.setTimeout(1000, () => {
      s.destroy()
      resolve(undefined)
    })
    s.on('error', () => resolve(undefined))
    s.on('connect', () => s.write('INFO server\r\n'))
    s.on('data', (d) => {
      got += d.toString()
      const pid = /process_id:(\d+)/.exec(got)
      if (pid) {
        s.destroy()
        resolve(Number(pid[1]))
      }
    })
  })
}

/**
 * Two suites sharing one Redis would have their brokers, named alike, take each other's clients
 * over: a start whose port another server answered is tried again (startOnFreePorts).
 */
export function startRedis(): Promise<RedisServer> {
  return startOnFreePorts(startRedisOnce)
}

async function startRedisOnce(): Promise<RedisServer> {
  if (!requireRedis()) throw new Error('redis-server is not installed (Debian package redis-server)')
  const dir = tempDir('iocgw-redis-')
  const port = await freePort()
  let child: ChildProcess | undefined
  let exited: Promise<unknown> = Promise.resolve()
  let log = ''

  async function start(): Promise<void> {
    if (child && child.exitCode === null && child.signalCode === null) return
    log = ''
    const c = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir.path, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    c.stdout!.on('data', (d: Buffer) => (log += d.toString()))
    c.stderr!.on('data', (d: Buffer) => (log += d.toString()))
    exited = new Promise((resolve) => c.once('exit', resolve))
    child = c
    // Ends as soon as redis-server exits: waiting out the timeout would hide why.
    const answered = await waitFor(async () => (c.exitCode !== null ? 'exited' : serverPid(port)), 20_000, 50)
    if (answered === 'exited') {
      // The port taken between freePort and the bind by a server that is not a redis-server.
      if (/address already in use/i.test(log)) {
        dir.remove()
        throw new PortTaken(`redis: port ${port} taken before it bound`)
      }
      throw new Error(`redis-server exited: ${log}`)
    }
    if (answered !== c.pid) {
      c.kill('SIGKILL')
      dir.remove()
      throw new PortTaken(`redis: port ${port} answered by another server (pid ${answered})`)
    }
  }

  async function signal(sig: NodeJS.Signals): Promise<void> {
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    child.kill(sig)
    await exited
  }

  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null
    },
    start,
    kill: () => signal('SIGKILL'),
    async stop() {
      await signal('SIGTERM')
      dir.remove()
    },
  }
}
