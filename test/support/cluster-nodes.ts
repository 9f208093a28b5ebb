// Several real gateway processes in cluster mode (docs/operations.md "Several nodes"): one
// PostgreSQL, one Redis, one influxd, and N `iocgw start` children, each with its own data
// directory and configuration file, behind a real HAProxy configured as config/haproxy.cfg is
// (MQTT in TCP mode with PROXY v2, checked with GET /readyz on the node's API).
//
//   const c = await startClusterServices()
//   const nodes = await Promise.all([1, 2, 3].map((i) => c.spawnNode(`node-${i}`)))
//   const front = await c.startFront(nodes)        // front.mqtt: all nodes; front.pin[i]: node i only
//   ...
//   await c.stop()
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { spawnGateway, stopGateway, type GatewayProcess } from './gateway-process.ts'
import { startHaproxy, tcpFrontend, type RunningHaproxy } from './haproxy.ts'
import { startInfluxd, requireInfluxd, type Influxd } from './influxd.ts'
import { requirePostgres, startPostgres, type PgInstance } from './postgres.ts'
import { requireRedis, startRedis, type RedisServer } from './redis.ts'
import { freePort, requireCommand, tempDir, waitFor } from './services.ts'
import { useSuiteService } from './suite-service.ts'

export const CLUSTER_ADMIN = 'cluster-e2e-admin-token-0123456789'
/**
 * `redis.heartbeatMs` of the nodes: short, so a dead node's wills are out within about 10 s
 * (docs/operations.md "MQTT across nodes"), yet long enough that a loaded box does not miss three
 * heartbeats of a live node in a row.
 */
export const HEARTBEAT_MS = 1500
/** `postgres.leaseTtlMs` of the nodes. */
export const LEASE_TTL_MS = 3000

/** Whether every program these tests start is installed (throws in CI when one is missing). */
export function haveClusterServices(): boolean {
  return requirePostgres() && requireRedis() && requireInfluxd() && requireCommand('haproxy')
}

export interface ClusterNode {
  id: string
  dir: string
  gw: GatewayProcess
}

export interface Front {
  haproxy: RunningHaproxy
  /** Port of the MQTT frontend balancing over every node (leastconn). */
  mqtt: number
  /** Per node id: a frontend with that node alone, to place a client on a chosen node. */
  pin: Record<string, number>
  /** HAProxy's state of a node in the balanced backend (`UP`, `DOWN`, ...). */
  status(nodeId: string): Promise<string | undefined>
}

export interface ReadyBody {
  status: string
  checks: Record<string, { ok: boolean; state?: string; detail?: string }>
}

export interface SpawnOptions {
  waitReady?: boolean
  /** More configuration sections (notify, alerts, ...), merged into each section the nodes are given. */
  config?: Record<string, Record<string, unknown>>
}

export interface ClusterServices {
  pg: PgInstance
  redis: RedisServer
  influxd: Influxd
  pgUrl: string
  influxUrl: string
  /** Starts `iocgw start` as node `id` (same server key as every other node). */
  spawnNode(id: string, opts?: SpawnOptions): Promise<ClusterNode>
  /** Nodes `node-1` … `node-{n}`, one after the other: processes starting at once are a burst of CPU on a shared box. */
  spawnNodes(n: number, opts?: SpawnOptions): Promise<ClusterNode[]>
  startFront(nodes: ClusterNode[]): Promise<Front>
  /** GET /readyz of a node, straight to its API. */
  readyz(node: ClusterNode): Promise<{ status: number; body: ReadyBody }>
  /** Calls the API of a node with the admin token. */
  api(node: ClusterNode, method: string, path: string, body?: unknown): Promise<Response>
  stop(): Promise<void>
}

export async function startClusterServices(): Promise<ClusterServices> {
  const [pg, redis, influxd] = await Promise.all([startPostgres(), startRedis(), startInfluxd()])
  const pgUrl = await pg.createDatabase()
  const influxUrl = influxd.urlFor('ioc')
  const root = tempDir('iocgw-cluster-')
  const models = tempDir('iocgw-no-models-')
  // Every node hashes secrets with the same key (docs/operations.md "Server key"): one file for all,
  // as docker-compose.yml's nodes share it, made by whichever node starts first.
  const keyFile = join(root.path, 'cluster-key', 'server.key')
  const spawned: ClusterNode[] = []
  const fronts: RunningHaproxy[] = []

  const spawnNode = async (id: string, opts: SpawnOptions = {}): Promise<ClusterNode> => {
    const dir = join(root.path, id)
    const file = join(root.path, `${id}.yaml`)
    mkdirSync(dir, { recursive: true })
    const config: Record<string, Record<string, unknown>> = {
      server: { dataDir: dir, nodeId: id, keyFile, logLevel: 'warn' },
      http: { host: '127.0.0.1', trustProxy: true },
      mqtt: { host: '127.0.0.1', proxyProtocol: true, connectTimeoutMs: 30_000 },
      postgres: { url: pgUrl, leaseTtlMs: LEASE_TTL_MS },
      redis: { url: redis.url, heartbeatMs: HEARTBEAT_MS },
      influx: { url: influxUrl },
      models: { dir: models.path },
      auth: { adminToken: CLUSTER_ADMIN },
    }
    for (const [section, keys] of Object.entries(opts.config ?? {})) config[section] = { ...config[section], ...keys }
    writeFileSync(file, stringify(config))
    const gw = await spawnGateway({
      dataDir: dir,
      env: { IOC_CONFIG: file, IOC_MODELS_FALLBACKS: '0', IOC_LOG_LEVEL: 'warn' },
      waitReady: opts.waitReady,
      // Several nodes starting at once on a loaded box take a while.
      readyTimeoutMs: 180_000,
    })
    const node = { id, dir, gw }
    spawned.push(node)
    return node
  }

  const startFront = async (nodes: ClusterNode[]): Promise<Front> => {
    const mqttPort = await freePort()
    const pin: Record<string, number> = {}
    for (const n of nodes) pin[n.id] = await freePort()
    const backend = (n: ClusterNode) => ({ name: n.id, host: '127.0.0.1', port: n.gw.ports.mqtt, checkPort: n.gw.ports.http })
    const timing = { interMs: 500, fall: 2, rise: 2 }
    const haproxy = await startHaproxy(
      [
        tcpFrontend({ name: 'mqtt', port: mqttPort, backends: nodes.map(backend), timing }),
        ...nodes.map((n) => tcpFrontend({ name: `pin_${n.id.replace(/\W/g, '_')}`, port: pin[n.id]!, backends: [backend(n)], timing })),
      ],
      [mqttPort, ...Object.values(pin)],
    )
    fronts.push(haproxy)
    const status = (nodeId: string) => haproxy.serverStatus('mqtt_nodes', nodeId)
    await waitFor(
      async () => {
        for (const n of nodes) if ((await status(n.id)) !== 'UP') return false
        return true
      },
      60_000,
      200,
    )
    return { haproxy, mqtt: mqttPort, pin, status }
  }

  const readyz = async (node: ClusterNode) => {
    const r = await fetch(`${node.gw.apiUrl}/readyz`, { signal: AbortSignal.timeout(10_000) })
    return { status: r.status, body: (await r.json()) as ReadyBody }
  }

  const api = (node: ClusterNode, method: string, path: string, body?: unknown) =>
    fetch(`${node.gw.apiUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${CLUSTER_ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(20_000),
    })

  const stop = async () => {
    for (const h of fronts) await h.kill()
    await Promise.all(spawned.map((n) => stopGateway(n.gw, 5_000)))
    if (redis.running === false) await redis.start().catch(() => {})
    await Promise.all([pg.stop(), redis.stop(), influxd.remove()])
    root.remove()
    models.remove()
  }

  const spawnNodes = async (n: number, opts?: SpawnOptions): Promise<ClusterNode[]> => {
    const nodes: ClusterNode[] = []
    for (let i = 1; i <= n; i++) nodes.push(await spawnNode(`node-${i}`, opts))
    return nodes
  }

  return { pg, redis, influxd, pgUrl, influxUrl, spawnNode, spawnNodes, startFront, readyz, api, stop }
}

/** Cluster services with their gateway nodes and the HAProxy in front of them. */
export interface ClusterFront extends ClusterServices {
  nodes: ClusterNode[]
  front: Front
}

/**
 * Fresh cluster services, `count` gateway nodes on them and HAProxy in front, for the calling
 * suite: up before its tests (and before the suite's own beforeAll), stopped after them.
 */
export function useClusterFront(count: number): ClusterFront {
  const start = async (): Promise<ClusterFront> => {
    const c = await startClusterServices()
    try {
      const nodes = await c.spawnNodes(count)
      return { ...c, nodes, front: await c.startFront(nodes) }
    } catch (err) {
      await c.stop()
      throw err
    }
  }
  return useSuiteService('the cluster', start, (c) => c.stop(), 600_000)
}

/** Lines of a node's pino output at level error (50) or fatal (60). */
export function errorLines(output: string): string[] {
  return output.split('\n').filter((l) => /"level":(50|60)\b/.test(l) || /^(Error|TypeError|Unhandled)/.test(l))
}
