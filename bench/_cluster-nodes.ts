// Gateway processes and service pids for `npm run bench -- cluster` (bench/cluster.ts; the ingest
// bench takes its start flags, configuration and device registration from here): a gateway
// node as `npm start` runs it, on ports and a data directory of its own that survive a kill -9 so
// it can start again as the same node, and the pids of the services whose CPU the bench counts.
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { freePort, tempDir, waitFor } from '../test/support/services.ts'
import { gaugeStation, writeGaugeStations } from './_gauge-stations.ts'
import { exited, ROOT } from './_ingest-publishers.ts'

export const ADMIN = 'bench-cluster-admin-token-0123456789'

/** The node flags `npm start` runs the gateway with, so the bench measures what operators run. */
export const START_FLAGS = (
  (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start ?? ''
)
  .split(' ')
  .filter((w) => w.startsWith('--'))

type Tree = Record<string, unknown>

function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base }
  for (const [k, v] of Object.entries(over)) {
    const b = out[k]
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? merge(b as Tree, v as Tree) : v
  }
  return out
}

/**
 * config/gateway.yaml with `overrides` on top and a stations file holding each of `gauges`' station
 * (bench/_gauge-stations.ts), both written into `dir`; answers the config file's path (IOC_CONFIG).
 */
export function gaugeConfig(dir: string, gauges: string[], overrides: Tree = {}): string {
  const base = parse(readFileSync(join(ROOT, 'config/gateway.yaml'), 'utf8')) as Tree
  const stationsFile = writeGaugeStations(ROOT, join(dir, 'stations.yaml'), gauges)
  const file = join(dir, 'node.yaml')
  writeFileSync(file, stringify(merge(merge(base, { ingest: { stationsFile } }), overrides)))
  return file
}

export interface Node {
  readonly name: string
  readonly ports: { http: number; mqtt: number; ws: number }
  readonly dataDir: string
  readonly apiUrl: string
  readonly pid: number | undefined
  /** Starts the process (again, after kill9) and waits until `readyPath` answers 200. */
  start(): Promise<void>
  kill9(): Promise<void>
  /** SIGTERM, SIGKILL after 15 s, then the data directory goes. */
  remove(): Promise<void>
}

/**
 * A gateway node: `iocgw start` with config/gateway.yaml and `overrides` on top (cluster nodes:
 * PROXY protocol and X-Forwarded-For, as config/cluster.yaml), `env` for the rest.
 */
export async function gatewayNode(opts: {
  name: string
  env: Record<string, string>
  overrides?: Tree
  readyPath: '/readyz' | '/healthz'
  /** Files copied into the data directory before the first start (a cluster's shared server.key). */
  seed?: Record<string, Buffer>
  /** The devices registerDevices will register: each gets its station in the node's stations file. */
  gauges: string[]
}): Promise<Node> {
  const dir = tempDir(`iocgw-bench-${opts.name}-`)
  const ports = { http: await freePort(), mqtt: await freePort(), ws: await freePort() }
  const configFile = gaugeConfig(dir.path, opts.gauges, opts.overrides)
  for (const [f, data] of Object.entries(opts.seed ?? {})) writeFileSync(join(dir.path, f), data, { mode: 0o600 })
  const apiUrl = `http://127.0.0.1:${ports.http}`
  let child: ChildProcess | undefined
  let out = ''
  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null
  return {
    name: opts.name,
    ports,
    dataDir: dir.path,
    apiUrl,
    get pid() {
      return child?.pid
    },
    async start() {
      out = ''
      // BENCH_GW_FLAGS (any node flags, e.g. --cpu-prof), as the ingest bench takes them.
      const flags = (process.env.BENCH_GW_FLAGS ?? '').split(' ').filter(Boolean)
      const c = spawn(process.execPath, [...START_FLAGS, ...flags, join(ROOT, 'gateway/cli/iocgw.js'), 'start'], {
        cwd: ROOT,
        env: {
          ...process.env,
          IOC_CONFIG: configFile,
          IOC_DATA_DIR: dir.path,
          IOC_HTTP_PORT: String(ports.http),
          IOC_MQTT_PORT: String(ports.mqtt),
          IOC_MQTT_WS_PORT: String(ports.ws),
          IOC_ADMIN_TOKEN: ADMIN,
          IOC_LOG_LEVEL: 'warn',
          ...opts.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      child = c
      c.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-8000)))
      c.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-8000)))
      await waitFor(
        async () => {
          if (c.exitCode !== null || c.signalCode !== null) throw new Error(`${opts.name} exited at start:\n${out}`)
          try {
            return (await fetch(`${apiUrl}${opts.readyPath}`)).status === 200
          } catch {
            return false
          }
        },
        120_000,
        100,
      ).catch((err: unknown) => {
        c.kill('SIGKILL')
        throw err instanceof Error && /exited at start/.test(err.message) ? err : new Error(`${opts.name} not ready in 120 s:\n${out}`)
      })
    },
    async kill9() {
      if (!child || !alive()) return
      child.kill('SIGKILL')
      await exited(child)
    },
    async remove() {
      if (child && alive()) {
        child.kill('SIGTERM')
        const t = setTimeout(() => child?.kill('SIGKILL'), 15_000)
        await exited(child)
        clearTimeout(t)
      }
      dir.remove()
    },
  }
}

/** Registers `ids` as water-level gauges, each at its own station (gaugeStation), through `apiUrl`; answers each one's MQTT password. */
export async function registerDevices(apiUrl: string, ids: string[]): Promise<Array<{ id: string; password: string }>> {
  const out: Array<{ id: string; password: string }> = []
  for (const id of ids) {
    const res = await fetch(`${apiUrl}/api/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id, kind: 'water_level', name: id, station: gaugeStation(id) }),
    })
    if (res.status !== 201) throw new Error(`register ${id}: ${res.status} ${await res.text()}`)
    out.push({ id, password: ((await res.json()) as { credentials: { password: string } }).credentials.password })
  }
  return out
}

/** `iocgw_mqtt_connected_clients{kind="device"}` of a node, 0 when it does not answer. */
export async function connectedDevices(apiUrl: string): Promise<number> {
  try {
    const text = await (await fetch(`${apiUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text()
    return Number(/^iocgw_mqtt_connected_clients\{kind="device"\} (\d+)/m.exec(text)?.[1] ?? 0)
  } catch {
    return 0
  }
}

/**
 * What a cluster node's alert partitions and broker did (its /metrics): partitions held, alert
 * inputs by where they went (`local`, `forwarded`, ...), and MQTT messages by the way they went
 * (`redis`, or `local` when no other node wanted them), counted since the node started.
 */
export async function alertRouting(
  apiUrl: string,
): Promise<{ held: number; routed: Record<string, number>; messages: Record<string, number> }> {
  const text = await (await fetch(`${apiUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text()
  const routed: Record<string, number> = {}
  for (const m of text.matchAll(/^iocgw_alert_inputs_routed_total\{outcome="([a-z_]+)"\} (\d+)/gm)) routed[m[1]!] = Number(m[2])
  const messages: Record<string, number> = {}
  for (const m of text.matchAll(/^iocgw_mqtt_messages_routed_total\{via="([a-z_]+)"\} (\d+)/gm)) messages[m[1]!] = Number(m[2])
  return { held: Number(/^iocgw_alert_partitions_held (\d+)/m.exec(text)?.[1] ?? 0), routed, messages }
}

function statOf(pid: string): { comm: string; ppid: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return { comm: s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')), ppid: Number(rest[1]) }
  } catch {
    return undefined
  }
}

/** The redis-server listening on `port` (its process title names the address). */
export function redisPid(port: number): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || statOf(d)?.comm !== 'redis-server') continue
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(`:${port}`)) return Number(d)
    } catch {
      // gone
    }
  }
  return undefined
}

/** A process and its children (PostgreSQL's postmaster and its backends, one process per connection). */
export function withChildren(pid: number): number[] {
  const out = [pid]
  for (const d of readdirSync('/proc')) if (/^\d+$/.test(d) && statOf(d)?.ppid === pid) out.push(Number(d))
  return out
}

/** The postmaster of the PostgreSQL whose data directory lies in `dir`. */
export function postmasterPid(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0])
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}
