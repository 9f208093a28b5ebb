// The embedded MQTT broker (aedes) with device and integration authentication, the topic ACL of
// docs/mqtt.md, publish routing that acknowledges only durable messages, revocation and device status.
import { Aedes, type Client } from 'aedes'
import type { GatewayBus } from '../bus/events.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import { deviceTopic } from '../protocol/topics.ts'
import type { Device, DeviceRegistry, RevocationEvent } from '../registry/types.ts'
import { PersistentSessions } from './client-id.ts'
import { DEVICE_REFRESH_MS, TOKEN_USERNAME, createHooks } from './hooks.ts'
import { tcpListener, tlsListener, wsListener, type Listener, type ProxyProtocol } from './listeners.ts'
import { brokerMetrics } from './metrics.ts'
import { Sessions } from './sessions.ts'
import { MAX_PACKET_BYTES, limitPackets } from './packet-limit.ts'
import { createAuthGate } from './auth-gate.ts'
import { createConnectionGuard, type Admission } from './conn-guard.ts'
import { deliverInAnyOrder } from './delivery-order.ts'
import { connectionLimits, limitCloser } from './limits.ts'
import { memoryAuthFailureLimiter, type AuthFailureLimiter } from '../security/auth-failures.ts'
import { refusalSummary } from '../security/refusal-log.ts'
import { boundedMemoryPersistence } from './offline-queue.ts'
import type { Cluster, DeviceSession } from './cluster.ts'
import { answerUnsupportedLevel, levelRefused } from './protocol-level.ts'
import { routeBeforeAck } from './route-before-ack.ts'
import { offlinePayload } from './status.ts'
import { SubscriptionCaps } from './subscription-caps.ts'
import type { BrokerConfig, BrokerPorts, DevicePublishRoutes, GatewayBroker, GatewayPublishOptions } from './types.ts'

export interface BrokerOptions {
  registry: DeviceRegistry
  metrics: Metrics
  logger: Logger
  config: BrokerConfig
  routes: DevicePublishRoutes
  /** Hears `device-status` for every status (device, will, gateway) when `routes.status` is not
   * given; with a status route, that route emits it once the status is stored. */
  bus?: GatewayBus | undefined
  /** How stale a session's device record (station, district, ...) may get; default 5 s. */
  deviceRefreshMs?: number | undefined
  /** Failed authentications, shared with the HTTP API; default an in-memory one at 20 per address and 60 per name a minute. */
  authFailures?: AuthFailureLimiter | undefined
  /** How often refused CONNECTs are summarised in the log; default 10 s. */
  refusalLogIntervalMs?: number | undefined
  /** Cluster mode (cluster.ts): sessions and routing through Redis; unset: in-process only. */
  cluster?: { redisUrl: string; nodeId?: string | undefined; heartbeatMs?: number | undefined } | undefined
}

function remoteOf(stream: import('node:stream').Duplex, req: import('node:http').IncomingMessage | undefined): string {
  return req?.socket.remoteAddress ?? (stream as { remoteAddress?: string }).remoteAddress ?? 'unknown'
}

/** Deliveries in flight at once in aedes' message queue (its default is 100). */
const MQ_CONCURRENCY = 200

export async function createBroker(opts: BrokerOptions): Promise<GatewayBroker> {
  const { registry, config, routes, bus } = opts
  const log = opts.logger.child({ component: 'broker' })
  const m = brokerMetrics(opts.metrics)
  const sessions = new Sessions()
  const lastOnline = new Map<string, boolean>()
  const willStarted = new WeakSet<Client>()
  /** Clients counted in the connected gauge (a session revoked while connecting never is). */
  const counted = new WeakSet<Client>()
  let aedes: Aedes | undefined
  let closing = false
  let listening = false
  let listeners: Listener[] = []
  const subscriptionCaps = new SubscriptionCaps({
    maxSubscriptionsPerClient: config.maxSubscriptionsPerClient ?? 1000,
    maxTopicFilterBytes: config.maxTopicFilterBytes ?? 256,
  })

  const refusals = refusalSummary(log, {
    event: 'mqtt_connect_refusals',
    msg: 'MQTT connects refused (summary)',
    intervalMs: opts.refusalLogIntervalMs,
  })
  const limiter = opts.authFailures ?? memoryAuthFailureLimiter({ perAddressPerMinute: 20, perUsernamePerMinute: 60 })
  const limits = connectionLimits(config)
  const closedByLimit = limitCloser(m, log, limits)
  const guard = createConnectionGuard(
    {
      maxPerAddress: limits.maxConnectionsPerAddress,
      maxTotal: limits.maxConnections,
      connectTimeoutMs: limits.connectTimeoutMs,
      maxPreAuthBytes: limits.maxConnectBytes,
      preAuthBudgetBytes: limits.preAuthBudgetBytes,
    },
    closedByLimit,
  )
  /** Each client's socket admission, until its CONNACK. */
  const admissions = new WeakMap<Client, Admission>()
  const connacked = new WeakSet<Client>()

  /** Clients whose queue overflowed, logged at most once a minute each. */
  const overflowLogged = new Map<string, number>()
  const maxQueued = config.maxQueuedMessages ?? 1000
  const onDrop = (clientId: string, topic: string | undefined): void => {
    m.queueDropped.inc()
    const now = Date.now()
    if ((overflowLogged.get(clientId) ?? 0) > now - 60_000) return
    if (overflowLogged.size > 10_000) overflowLogged.clear()
    overflowLogged.set(clientId, now)
    log.warn({ event: 'mqtt_queue_full', client: clientId, topic, max: maxQueued }, 'persistent session queue full; oldest message dropped')
  }
  const storable = (sub: object): boolean => subscriptionCaps.storable(sub)
  const maxPersistent = config.maxPersistentSessionsPerIdentity ?? 10
  // Imported only in cluster mode: a single node does not load the Redis clients (docs/operations.md, Memory).
  const cluster: Cluster | undefined = opts.cluster
    ? (await import('./cluster.ts')).openCluster({
        url: opts.cluster.redisUrl,
        nodeId: opts.cluster.nodeId,
        heartbeatMs: opts.cluster.heartbeatMs,
        log,
        metrics: opts.metrics,
        concurrency: MQ_CONCURRENCY,
        maxQueued,
        onDrop: (clientId) => onDrop(clientId, undefined),
        storable,
        maxPersistentSessionsPerIdentity: maxPersistent,
      })
    : undefined

  const beforeAck = cluster ? routeBeforeAck(() => cluster.up()) : undefined
  const hooks = createHooks({
    aedes: () => aedes!,
    registry,
    routes,
    sessions,
    m,
    log,
    gate: createAuthGate(limiter, refusals, TOKEN_USERNAME),
    bus,
    lastOnline,
    willStarted,
    deviceRefreshMs: opts.deviceRefreshMs ?? DEVICE_REFRESH_MS,
    persistentSessions: new PersistentSessions(maxPersistent),
    sharedSessions: cluster?.sessions,
    movedAway: cluster ? (clientId) => cluster.movedAway(clientId) : undefined,
    subscriptionCaps,
    routeBeforeAck: beforeAck ? (client, packet, cb) => beforeAck.route(client, packet, cb) : undefined,
  })

  const persistence =
    cluster?.aedesOptions.persistence ??
    boundedMemoryPersistence({ maxQueued, onDrop: (clientId, packet) => onDrop(clientId, packet.topic), storable })

  aedes = await Aedes.createBroker({
    ...(cluster
      ? { id: cluster.aedesOptions.id, heartbeatInterval: cluster.aedesOptions.heartbeatInterval, mq: cluster.aedesOptions.mq }
      : {}),
    persistence,
    concurrency: MQ_CONCURRENCY,
    // A device that stops reading must not stall deliveries to every other client.
    drainTimeout: 30_000,
    connectTimeout: limits.connectTimeoutMs,
    preConnect: hooks.preConnect,
    authenticate: hooks.authenticate,
    authorizePublish: hooks.authorizePublish,
    authorizeSubscribe: hooks.authorizeSubscribe,
    authorizeForward: hooks.authorizeForward,
  }).catch(async (err: unknown) => {
    // Redis unreachable at start (its persistence loads the stored subscriptions): nothing left open.
    await cluster?.close()
    throw err
  })
  const broker = aedes
  beforeAck?.install(broker)
  cluster?.watch(broker)
  await cluster?.publishOwnWills(broker).catch((err: Error) => {
    log.warn({ event: 'mqtt_previous_wills_failed', err: err.message }, "could not publish the wills of this node's previous run")
  })
  // aedes emits 'error' when its will sweep fails (Redis away): logged, never an unhandled event.
  ;(broker as unknown as import('node:events').EventEmitter).on('error', (err: Error) =>
    log.warn({ event: 'mqtt_broker_error', err: err.message }, 'MQTT broker error'),
  )

  broker.on('connackSent', (packet, client) => {
    if ((packet as { returnCode?: number }).returnCode !== 0) return
    connacked.add(client)
    admissions.get(client)?.connacked()
    admissions.delete(client)
  })

  broker.on('client', (client) => {
    // Revoked between CONNECT and registration: close now (the revocation missed this one).
    if (!sessions.register(client)) {
      log.info({ event: 'mqtt_session_revoked', client: client.id }, 'session revoked while connecting; closed')
      client.close()
      return
    }
    const kind = sessions.get(client)?.principal.kind ?? 'device'
    counted.add(client)
    m.connects.inc({ kind })
    m.connected.inc({ kind })
    const principal = sessions.get(client)?.principal
    if (cluster && principal) cluster.sessionStarted(client, principal.kind === 'device' ? deviceSession(principal.device) : undefined)
  })

  broker.on('unsubscribe', (filters, client) => subscriptionCaps.unsubscribed(client, filters))

  broker.on('clientDisconnect', (client) => {
    const session = sessions.get(client)
    if (!session) return
    if (counted.delete(client)) m.connected.dec({ kind: session.principal.kind })
    cluster?.sessionEnded(client)
    const left = sessions.unregister(client)
    if (session.principal.kind !== 'device' || closing || left > 0) return
    // Taken over by a session on another node (MQTT-3.1.4-2): the device is still online there.
    if (cluster?.movedAway(client.id)) return
    // The device is gone. Its will says so when it had one and it is being delivered; otherwise
    // (no will, a clean DISCONNECT that discards the will per MQTT-3.1.2-10) the gateway does,
    // unless the device already said it is offline.
    if (willStarted.has(client)) return
    const device = session.principal.device
    if (lastOnline.get(device.id) === false) return
    publishOffline(device).catch((err: Error) =>
      log.warn({ event: 'mqtt_offline_status_failed', device: device.id, err }, 'could not publish offline status'),
    )
  })

  broker.on('clientError', (client, err) => {
    // aedes refuses wildcards in a PUBLISH topic before authorizePublish (MQTT-3.3.2-2): count
    // them with the ACL refusals so every refused publish shows in one counter.
    if (/is not allowed in PUBLISH/.test(err.message)) {
      m.publishRefused.inc({ reason: 'wildcard' })
      log.warn({ event: 'mqtt_publish_refused', client: client.id, reason: 'wildcard' }, 'MQTT publish refused; connection closed')
      return
    }
    if (err.message.startsWith('publish refused') || err.message.startsWith('connection refused')) return
    log.debug({ event: 'mqtt_client_error', client: client.id, err }, 'MQTT client error')
  })
  broker.on('connectionError', (_client, err) => {
    log.debug({ event: 'mqtt_connection_error', err }, 'MQTT connection error')
  })

  function deviceSession(device: Device): DeviceSession {
    return { offlineWill: { topic: deviceTopic.status(device.id), payload: Buffer.from('{"online":false}') } }
  }

  async function publishOffline(device: Device): Promise<void> {
    const receivedAt = Date.now()
    const payload = offlinePayload(receivedAt)
    const topic = deviceTopic.status(device.id)
    // Same path as a device's own status: durable first, then retained for subscribers.
    await routes.status?.({ device, topic, subtopic: 'status', payload, qos: 1, retain: true, receivedAt })
    // A session may have come back meanwhile; its own status wins.
    if (sessions.deviceClients(device.id).length > 0) return
    await publish(topic, payload, { qos: 1, retain: true })
    lastOnline.set(device.id, false)
    m.gatewayOffline.inc()
    if (!routes.status) hooks.emitStatus({ device: device.id, online: false, ts: receivedAt })
    log.info({ event: 'device_offline', device: device.id }, 'device left without a will; offline status published')
  }

  function onRevocation(ev: RevocationEvent): void {
    const clients = sessions.revoke(ev.deviceId)
    for (const c of clients) {
      m.revocationKicks.inc({ reason: ev.reason })
      c.close()
    }
    if (clients.length > 0) {
      log.info(
        { event: 'mqtt_sessions_revoked', device: ev.deviceId, reason: ev.reason, sessions: clients.length },
        'device sessions closed',
      )
    }
  }
  const unsubscribeRevocation = registry.onRevocation(onRevocation)

  function publish(topic: string, payload: string | Buffer, o: GatewayPublishOptions): Promise<void> {
    if (closing) return Promise.reject(new Error(`cannot publish on "${topic}": the MQTT broker is closed`))
    if (topic.length === 0 || topic.includes('#') || topic.includes('+')) {
      return Promise.reject(new Error(`cannot publish on "${topic}": a topic name has no wildcards (MQTT-3.3.2-2)`))
    }
    return new Promise((resolve, reject) => {
      broker.publish(
        {
          cmd: 'publish',
          topic,
          payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
          qos: o.qos,
          retain: o.retain,
          dup: false,
        },
        (err) => (err ? reject(err) : resolve()),
      )
    })
  }

  async function listen(): Promise<BrokerPorts> {
    if (listening) throw new Error('broker is already listening')
    let limitWarned = false
    let levelWarned = false
    const handle = (
      stream: import('node:stream').Duplex,
      req: import('node:http').IncomingMessage | undefined,
      admission: Admission,
    ): void => {
      const client = broker.handle(stream, req)
      deliverInAnyOrder(client)
      admissions.set(client, admission)
      // After aedes attached its reader (see Admission.watchBytes).
      admission.watchBytes(req?.socket ?? (stream as import('node:net').Socket))
      const limited = limitPackets(client, {
        max: MAX_PACKET_BYTES,
        maxBeforeConnack: limits.maxConnectBytes,
        connacked: () => connacked.has(client),
        packetTimeoutMs: limits.packetTimeoutMs,
        onOversize: (declared, limit, beforeConnack) => {
          m.oversize.inc()
          if (beforeConnack) closedByLimit('preauth_bytes', remoteOf(stream, req))
          else log.warn({ event: 'mqtt_packet_too_large', declared, limit }, 'MQTT packet over the size limit; connection closed')
        },
        onSlowPacket: () => closedByLimit('packet_timeout', remoteOf(stream, req)),
      })
      if (!limited && !limitWarned) {
        limitWarned = true
        log.warn({ event: 'mqtt_packet_limit_unavailable' }, 'cannot cap MQTT packet size with this aedes version')
      }
      if (!answerUnsupportedLevel(client, (level) => levelRefused(m, log, client, level)) && !levelWarned) {
        levelWarned = true
        log.warn(
          { event: 'mqtt_protocol_level_answer_unavailable' },
          'cannot answer unknown MQTT protocol levels with CONNACK 1 with this aedes version',
        )
      }
    }
    // Behind a TCP balancer the header names the client (docs/operations.md "HAProxy in front").
    const proxy: ProxyProtocol | undefined = config.proxyProtocol
      ? {
          refused: (reason, address, detail) => {
            m.proxyHeaderRefused.inc({ reason })
            refusals.note(address, undefined, `proxy_header_${reason}`)
            log.debug(
              { event: 'mqtt_proxy_header_refused', reason, address, detail },
              'MQTT connection without a valid PROXY header closed',
            )
          },
        }
      : undefined
    try {
      listeners.push(await tcpListener(handle, guard, config.host, config.port, proxy))
      listeners.push(await wsListener(handle, guard, config.host, config.wsPort, config.wsPath, limits.connectTimeoutMs))
      if (config.tls)
        listeners.push(await tlsListener(handle, guard, config.host, config.tlsPort ?? 8883, config.tls, limits.connectTimeoutMs, proxy))
    } catch (err) {
      await Promise.all(listeners.map((l) => l.close()))
      listeners = []
      throw err
    }
    listening = true
    const [tcp, ws, tls] = listeners
    const ports: BrokerPorts = { mqtt: tcp!.port, ws: ws!.port, ...(tls ? { tls: tls.port } : {}) }
    log.info(
      { event: 'mqtt_listening', host: config.host, ...ports, wsPath: config.wsPath, proxyProtocol: config.proxyProtocol === true },
      'MQTT broker listening',
    )
    return ports
  }

  async function close(): Promise<void> {
    if (closing) return
    closing = true
    listening = false
    unsubscribeRevocation()
    // Stop accepting first, then close every client, then whatever never finished CONNECT.
    const closed = listeners.map((l) => l.close())
    cluster?.beginClose()
    await new Promise<void>((resolve) => broker.close(() => resolve()))
    for (const l of listeners) l.destroyAll()
    await Promise.all(closed)
    listeners = []
    refusals.close()
    await cluster?.close()
    log.info({ event: 'mqtt_closed' }, 'MQTT broker closed')
  }

  return {
    listen,
    close,
    publish,
    closeTokenSessions(tokenId: string): number {
      const clients = sessions.tokenClients(tokenId)
      for (const c of clients) c.close()
      if (clients.length > 0)
        log.info({ event: 'mqtt_token_sessions_closed', tokenId, sessions: clients.length }, 'integration sessions closed')
      return clients.length
    },
    connectedCount: () => broker.connectedClients,
    socketStats: () => guard.stats(),
    ready: () => listening && !closing,
    redisUp: () => cluster?.up(),
  }
}
