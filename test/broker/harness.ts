// A real broker on loopback ports with a real SQLite registry in a temp dir, and its log lines.
import { Writable } from 'node:stream'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { createBroker } from '../../gateway/broker/index.ts'
import type { BrokerConfig, DevicePublishRoutes, GatewayBroker, BrokerPorts } from '../../gateway/broker/index.ts'
import { memoryAuthFailureLimiter, type AuthFailureLimiter } from '../../gateway/security/auth-failures.ts'
import { GatewayBus } from '../../gateway/bus/events.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import type { Actor, DeviceKind, Role } from '../../gateway/registry/types.ts'
import { tempDir } from '../support/services.ts'
import { metricValue } from '../support/metrics.ts'

export const actor: Actor = { type: 'system', id: 'test' }

export interface Harness {
  registry: ReturnType<typeof openRegistry>
  /** The directory of the registry. */
  dataDir: string
  metrics: Metrics
  broker: GatewayBroker
  bus: GatewayBus
  ports: BrokerPorts
  url: string
  wsUrl: string
  /** Every log line the gateway wrote. */
  lines: string[]
  /** Every secret handed out (for the no-secret-in-logs check). */
  secrets: string[]
  addDevice(id: string, kind?: DeviceKind): Promise<string>
  addToken(role: Role): Promise<string>
  /** A token and its id (the prefix of the client ids it may use, docs/mqtt.md). */
  addTokenWithId(role: Role): Promise<{ id: string; secret: string }>
  counter(name: string, labels?: Record<string, string>): Promise<number>
  /** Without a clientId, an empty one: the broker assigns one (clean session, MQTT-3.1.3-6). */
  connect(username: string, password: string, opts?: IClientOptions): Promise<MqttClient>
  stop(): Promise<void>
}

export interface HarnessOptions {
  routes?: DevicePublishRoutes
  deviceRefreshMs?: number
  maxQueuedMessages?: number
  maxSubscriptionsPerClient?: number
  maxTopicFilterBytes?: number
  maxPersistentSessionsPerIdentity?: number
  /** More `mqtt` settings (limits). */
  config?: Partial<BrokerConfig>
  authFailures?: AuthFailureLimiter
  refusalLogIntervalMs?: number
  /** Cluster mode (gateway/broker/cluster.ts): Redis URL, node id, heartbeat. */
  cluster?: { redisUrl: string; nodeId?: string; heartbeatMs?: number }
  /** Share another harness's registry directory (several nodes with the same devices and tokens). */
  dataDir?: string
}

/** A test client's connect options: MQTT 3.1.1, no reconnect, 5 s to connect, an empty client id unless `o` names one. */
function clientOptions(username: string, password: string, o: IClientOptions): IClientOptions {
  return { username, password, clientId: '', protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...o }
}

export async function startBroker(opts: HarnessOptions = {}): Promise<Harness> {
  const dir = opts.dataDir ? { path: opts.dataDir, remove: () => undefined } : tempDir('iocgw-broker-')
  const registry = openRegistry(dir.path)
  const metrics = new Metrics({ defaults: false })
  const bus = new GatewayBus()
  const lines: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean))
      cb()
    },
  })
  const logger = createLogger('debug', sink)
  const broker = await createBroker({
    registry,
    metrics,
    logger,
    bus,
    routes: opts.routes ?? {},
    deviceRefreshMs: opts.deviceRefreshMs,
    // Every test connects from 127.0.0.1: a generous limit unless the test is about the limit.
    authFailures: opts.authFailures ?? memoryAuthFailureLimiter({ perAddressPerMinute: 10_000 }),
    refusalLogIntervalMs: opts.refusalLogIntervalMs,
    cluster: opts.cluster,
    config: {
      host: '127.0.0.1',
      port: 0,
      wsPort: 0,
      wsPath: '/mqtt',
      maxQueuedMessages: opts.maxQueuedMessages,
      maxSubscriptionsPerClient: opts.maxSubscriptionsPerClient,
      maxTopicFilterBytes: opts.maxTopicFilterBytes,
      maxPersistentSessionsPerIdentity: opts.maxPersistentSessionsPerIdentity,
      ...opts.config,
    },
  })
  const ports = await broker.listen()
  const secrets: string[] = []
  const clients: MqttClient[] = []
  const h: Harness = {
    registry,
    dataDir: dir.path,
    metrics,
    broker,
    bus,
    ports,
    url: `mqtt://127.0.0.1:${ports.mqtt}`,
    wsUrl: `ws://127.0.0.1:${ports.ws}/mqtt`,
    lines,
    secrets,
    async addDevice(id, kind = 'water_level') {
      const { secret } = await registry.createDevice({ id, kind, name: `Trạm ${id}` }, actor)
      secrets.push(secret)
      return secret
    },
    async addToken(role) {
      return (await h.addTokenWithId(role)).secret
    },
    async addTokenWithId(role) {
      const { token, secret } = await registry.createToken({ role, name: `${role} integration` }, actor)
      secrets.push(secret)
      return { id: token.id, secret }
    },
    counter: (name, labels = {}) => metricValue(metrics, name, labels),
    async connect(username, password, o = {}) {
      const c = await mqtt.connectAsync(h.url, clientOptions(username, password, o))
      clients.push(c)
      return c
    },
    async stop() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})))
      await broker.close()
      await registry.close()
      dir.remove()
    },
  }
  return h
}

/** The CONNACK return code of a refused connect (0 when accepted). */
export async function connackCode(url: string, username: string, password: string, o: IClientOptions = {}): Promise<number> {
  try {
    const c = await mqtt.connectAsync(url, clientOptions(username, password, o))
    await c.endAsync(true)
    return 0
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'number') return code
    throw err
  }
}

/** Resolves when the client's connection closes. */
export function closed(c: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!c.connected) return resolve()
    c.once('close', () => resolve())
  })
}
