// A real HAProxy (Debian's `haproxy`) in the foreground with a generated configuration in a temp
// dir, on free loopback ports: the balancer of docs/operations.md "HAProxy in front", for tests.
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { connect as netConnect } from 'node:net'
import { join } from 'node:path'
import { tempDir, waitFor } from './services.ts'

export interface Backend {
  /** Server name in HAProxy (letters, digits, - and _). */
  name: string
  host: string
  port: number
  /** Port of the server's HTTP API when the health check goes to `GET /readyz` there (MQTT backends). */
  checkPort?: number
}

/** Health checks every `interMs`, down after `fall` failures, up after `rise` successes: quick, for tests. */
export interface CheckTiming {
  interMs?: number
  fall?: number
  rise?: number
}

const checkParams = (t: CheckTiming = {}): string => `check inter ${t.interMs ?? 300} fall ${t.fall ?? 2} rise ${t.rise ?? 1}`

/** As config/haproxy.cfg: a connection a node refuses is retried on another node. */
const RETRY_ELSEWHERE = ['  option redispatch 1', '  retries 2']

/**
 * A TCP (layer 4) frontend whose backends get a PROXY protocol header before the client's bytes
 * (`send-proxy-v2` by default; `send-proxy` for v1), least connections first. With `checkPort` on a backend the health check is
 * `GET /readyz` on that port (as config/haproxy.cfg does); otherwise a TCP connect.
 */
export function tcpFrontend(opts: {
  name: string
  port: number
  backends: Backend[]
  proxy?: 'v1' | 'v2' | 'none'
  /** Health checks on (default); their connections come from HAProxy's own address. */
  check?: boolean
  timing?: CheckTiming
}): string {
  const send = { v1: ' send-proxy', v2: ' send-proxy-v2', none: '' }[opts.proxy ?? 'v2']
  const httpCheck = opts.backends.some((b) => b.checkPort !== undefined)
  return [
    `frontend ${opts.name}`,
    '  mode tcp',
    `  bind 127.0.0.1:${opts.port}`,
    `  default_backend ${opts.name}_nodes`,
    '',
    `backend ${opts.name}_nodes`,
    '  mode tcp',
    '  balance leastconn',
    ...RETRY_ELSEWHERE,
    ...(httpCheck ? ['  option httpchk GET /readyz', '  http-check expect status 200'] : []),
    ...opts.backends.map(
      (b) =>
        `  server ${b.name} ${b.host}:${b.port}${send}${opts.check === false ? '' : ` ${checkParams(opts.timing)}`}` +
        (b.checkPort !== undefined ? ` port ${b.checkPort}` : ''),
    ),
    '',
  ].join('\n')
}

/** An HTTP frontend that adds X-Forwarded-For and checks each backend with `GET /readyz`. */
export function httpFrontend(opts: { name: string; port: number; backends: Backend[]; timing?: CheckTiming }): string {
  return [
    `frontend ${opts.name}`,
    '  mode http',
    `  bind 127.0.0.1:${opts.port}`,
    '  option forwardfor',
    `  default_backend ${opts.name}_nodes`,
    '',
    `backend ${opts.name}_nodes`,
    '  mode http',
    '  balance leastconn',
    ...RETRY_ELSEWHERE,
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    ...opts.backends.map((b) => `  server ${b.name} ${b.host}:${b.port} ${checkParams(opts.timing)}`),
    '',
  ].join('\n')
}

export interface RunningHaproxy {
  child: ChildProcess
  configFile: string
  /** Everything HAProxy wrote so far. */
  output(): string
  /** `UP`, `DOWN`, ... of one server, from the stats socket's `show stat`. */
  serverStatus(backend: string, server: string): Promise<string | undefined>
  /** SIGTERM (HAProxy's hard stop: connections closed at once); SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>
  kill(): Promise<void>
}

/** Runs `haproxy -db -f <generated config>` with the given frontends and backends; resolves once `listening` ports accept. */
export async function startHaproxy(sections: string[], listening: number[]): Promise<RunningHaproxy> {
  const dir = tempDir('iocgw-haproxy-')
  const socket = join(dir.path, 'admin.sock')
  const configFile = join(dir.path, 'haproxy.cfg')
  const config = [
    'global',
    `  stats socket ${socket} mode 600 level admin`,
    '  maxconn 2000',
    '',
    'defaults',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout check 2s',
    '',
    ...sections,
  ].join('\n')
  writeFileSync(configFile, config + '\n')
  // -db: foreground, no daemon; the test owns the process.
  const child = spawn('haproxy', ['-db', '-f', configFile], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let gone = false
  void exited.then(() => (gone = true))

  const accepts = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port }, () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
  try {
    await waitFor(async () => {
      if (gone) throw new Error(`haproxy exited:\n${out}`)
      for (const p of listening) if (!(await accepts(p))) return false
      return true
    }, 15_000)
  } catch (err) {
    child.kill('SIGKILL')
    dir.remove()
    throw err
  }

  const command = (cmd: string): Promise<string> =>
    new Promise((resolve, reject) => {
      let text = ''
      const s = netConnect({ path: socket }, () => s.end(`${cmd}\n`))
      s.on('data', (d: Buffer) => (text += d.toString()))
      s.on('end', () => resolve(text))
      s.on('error', reject)
    })
  const finish = async (signal: NodeJS.Signals, graceMs: number): Promise<void> => {
    if (!gone) {
      child.kill(signal)
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(t)
    }
    dir.remove()
  }
  return {
    child,
    configFile,
    output: () => out,
    async serverStatus(backend, server) {
      // `show stat` is CSV: pxname,svname,...,status is the 18th column.
      const csv = await command('show stat')
      const header = csv.split('\n')[0]?.replace(/^# /, '').split(',') ?? []
      const col = header.indexOf('status')
      for (const line of csv.split('\n').slice(1)) {
        const f = line.split(',')
        if (f[0] === backend && f[1] === server) return f[col]
      }
      return undefined
    },
    stop: (graceMs = 5_000) => finish('SIGTERM', graceMs),
    kill: () => finish('SIGKILL', 0),
  }
}
