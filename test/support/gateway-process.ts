import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, waitFor } from './services.ts'
import { useSuiteService } from './suite-service.ts'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const BIN = join(ROOT, 'gateway', 'cli', 'iocgw.js')

export interface GatewayProcess {
  child: ChildProcess
  ports: { http: number; mqtt: number; ws: number }
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string
  /** Resolves with the exit code. */
  exited: Promise<number | null>
  apiUrl: string
  mqttUrl: string
}

/**
 * `iocgw start` on the data directory `dir` with `env` for the calling suite: started before its
 * tests, stopped after them, and then `dir` removed.
 */
export function useGatewayProcess(dir: { path: string; remove(): void }, env: Record<string, string>): GatewayProcess {
  return useSuiteService(
    'iocgw start',
    () => spawnGateway({ dataDir: dir.path, env }),
    async (gw) => void (await stopGateway(gw)),
    90_000,
    dir.remove,
  )
}

/**
 * Runs `iocgw start` as a real child process on free ports, as an operator would, and waits until
 * it says where it listens.
 */
export async function spawnGateway(opts: SpawnOptions): Promise<GatewayProcess> {
  // A port found free can be taken by another test's service before the gateway binds it: with
  // ports of our own choosing, such a start is tried again on new ones.
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnOnce(opts)
    } catch (err) {
      const collided = err instanceof Error && /port \d+ is already in use/.test(err.message)
      if (!collided || opts.ports || attempt === 3) throw err
    }
  }
}

interface SpawnOptions {
  dataDir: string
  env?: Record<string, string>
  args?: string[]
  ports?: Partial<{ http: number; mqtt: number; ws: number }>
  waitReady?: boolean
  /** How long to wait for the process to say it listens (default 60 s). */
  readyTimeoutMs?: number
}

async function spawnOnce(opts: SpawnOptions): Promise<GatewayProcess> {
  const ports = {
    http: opts.ports?.http ?? (await freePort()),
    mqtt: opts.ports?.mqtt ?? (await freePort()),
    ws: opts.ports?.ws ?? (await freePort()),
  }
  const child = spawn(process.execPath, [BIN, 'start', ...(opts.args ?? [])], {
    cwd: ROOT,
    env: {
      ...process.env,
      IOC_DATA_DIR: opts.dataDir,
      IOC_HTTP_PORT: String(ports.http),
      IOC_MQTT_PORT: String(ports.mqtt),
      IOC_MQTT_WS_PORT: String(ports.ws),
      IOC_LOG_LEVEL: 'warn',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const gw: GatewayProcess = {
    child,
    ports,
    output: () => out,
    exited,
    apiUrl: `http://127.0.0.1:${ports.http}`,
    mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`,
  }
  if (opts.waitReady !== false) {
    let done = false
    void exited.then(() => (done = true))
    // Stop waiting as soon as the process has exited (waitFor would retry a throwing check).
    await waitFor(() => done || out.includes('ioc-gateway listening'), opts.readyTimeoutMs ?? 60_000, 50)
    if (!out.includes('ioc-gateway listening')) throw new Error(`gateway exited early:\n${out}`)
  }
  return gw
}

/** SIGTERM, then SIGKILL if it has not exited within the grace period. */
export async function stopGateway(gw: GatewayProcess, graceMs = 10_000): Promise<number | null> {
  if (gw.child.exitCode !== null) return gw.child.exitCode
  gw.child.kill('SIGTERM')
  const t = setTimeout(() => gw.child.kill('SIGKILL'), graceMs)
  const code = await gw.exited
  clearTimeout(t)
  return code
}
