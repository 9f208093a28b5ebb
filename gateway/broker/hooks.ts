// The aedes hooks: authenticate, authorizePublish, authorizeSubscribe, authorizeForward. Each is
// a list of named steps, guards first, side effects (counters, routes, session tables) last.
import type { Aedes, AuthenticateError, Client, ConnectPacket, PublishPacket, Subscription } from 'aedes'
import type { DeviceStatusEvent, GatewayBus } from '../bus/events.ts'
import type { Logger } from '../log/logger.ts'
import { deviceTopic } from '../protocol/topics.ts'
import type { Device, DeviceRegistry } from '../registry/types.ts'
import type { AuthGate } from './auth-gate.ts'
import { devicePublish, deviceSubscribe, integrationSubscribe, mayForward } from './acl.ts'
import type { PersistentSessions } from './client-id.ts'
import type { BrokerMetrics } from './metrics.ts'
import { principalKey, type Principal, type Session, type Sessions } from './sessions.ts'
import { levelRefused, supportedLevel } from './protocol-level.ts'
import { parseStatus, StatusRetention } from './status.ts'
import type { SubscriptionCaps } from './subscription-caps.ts'
import type { ConnectRefuseReason, DevicePublish, DevicePublishRoutes, RefuseReason, RouteKey } from './types.ts'

/** MQTT 3.1.1 clause 3.2.2.3, CONNACK return codes. */
const CONNACK = { unacceptableProtocolLevel: 1, identifierRejected: 2, serverUnavailable: 3, badUsernameOrPassword: 4, notAuthorized: 5 } as const

const REFUSE_CODE: Record<ConnectRefuseReason, number> = {
  missing_credentials: CONNACK.badUsernameOrPassword,
  unknown_device: CONNACK.badUsernameOrPassword,
  bad_secret: CONNACK.badUsernameOrPassword,
  bad_token: CONNACK.badUsernameOrPassword,
  device_disabled: CONNACK.notAuthorized,
  device_decommissioned: CONNACK.notAuthorized,
  will_not_permitted: CONNACK.notAuthorized,
  client_id_in_use: CONNACK.identifierRejected,
  client_id_not_owned: CONNACK.identifierRejected,
  persistent_session_limit: CONNACK.identifierRejected,
  protocol_level: CONNACK.unacceptableProtocolLevel,
  registry_error: CONNACK.serverUnavailable,
  rate_limited: CONNACK.notAuthorized,
}

/** Username integrations connect with (docs/mqtt.md "Integrations"); the password is an API token. */
export const TOKEN_USERNAME = 'token'

export interface HookContext {
  aedes: () => Aedes
  registry: DeviceRegistry
  routes: DevicePublishRoutes
  sessions: Sessions
  m: BrokerMetrics
  log: Logger
  /** The failed-authentication limit shared with the HTTP API, and the refusal log summary. */
  gate: AuthGate
  bus?: GatewayBus | undefined
  /** Last status each device reported (or the gateway reported for it). */
  lastOnline: Map<string, boolean>
  /** Sessions whose status will is being delivered (so the gateway need not publish one). */
  willStarted: WeakSet<Client>
  deviceRefreshMs: number
  persistentSessions: PersistentSessions // client ids per identity (client-id.ts)
  subscriptionCaps: SubscriptionCaps // filter length and count per client
}

/**
 * How long a session may use the device record it read at CONNECT (or last refresh) before
 * reading it again. Routes get the device's station and district from it, and a PATCH of those
 * raises no registry event; revocations (disable, remove, rotate) close the session at once.
 */
export const DEVICE_REFRESH_MS = 5_000

/**
 * Sockets corked until the end of this tick. The PUBACKs of all the messages one store write made
 * durable are sent in the same run of promise callbacks; corking each connection until then
 * turns them into one write per connection instead of one system call per PUBACK.
 */
const corked = new Set<{ cork(): void; uncork(): void }>()
function corkUntilTick(conn: { cork?: () => void; uncork?: () => void }): void {
  if (typeof conn.cork !== 'function' || typeof conn.uncork !== 'function') return
  const c = conn as { cork(): void; uncork(): void }
  if (corked.has(c)) return
  c.cork()
  corked.add(c)
  if (corked.size === 1) process.nextTick(uncorkAll)
}
function uncorkAll(): void {
  for (const c of corked) c.uncork()
  corked.clear()
}

/** Error that also closes the connection without an acknowledgement (aedes behaviour). */
class Refusal extends Error {}

function refuseConnect(reason: ConnectRefuseReason): AuthenticateError {
  const err = new Error(`connection refused: ${reason}`) as AuthenticateError
  ;(err as { returnCode: number }).returnCode = REFUSE_CODE[reason]
  return err
}

/** Attacker-chosen text going into a log line: bounded and printable. */
function safeText(s: string | undefined): string | undefined {
  return s === undefined ? undefined : s.slice(0, 80).replace(/[^\x20-\x7e]/g, '?')
}

function remoteOf(client: Client): string | undefined {
  const c = client.conn as { remoteAddress?: string }
  return c.remoteAddress ?? client.req?.socket?.remoteAddress
}

export function createHooks(ctx: HookContext) {
  const { registry, routes, sessions, m, log, persistentSessions, subscriptionCaps } = ctx
  const retention = new StatusRetention((reason, payload, topic) => {
    m.statusNotRetained.inc({ reason })
    log.warn({ event: 'mqtt_status_not_retained', topic: safeText(topic), bytes: payload.length, reason }, 'invalid status neither retained nor delivered')
  })
  /** CONNECT packets between preConnect and authenticate (for the will topic). */
  const connectPackets = new WeakMap<Client, ConnectPacket>()
  // Metric children made once per route: these run for every message.
  const routeMetrics = new Map<RouteKey, { messages: { inc(): void }; seconds: { observe(s: number): void } }>()
  const metricsOf = (route: RouteKey): { messages: { inc(): void }; seconds: { observe(s: number): void } } => {
    let r = routeMetrics.get(route)
    if (!r) {
      r = { messages: m.messagesInOf(route), seconds: m.handlerSeconds.labels({ topic: route }) }
      routeMetrics.set(route, r)
    }
    return r
  }

  function clientsById(): Record<string, Client> {
    return (ctx.aedes() as unknown as { clients: Record<string, Client> }).clients
  }

  function preConnect(client: Client, packet: ConnectPacket, done: (err: Error | null, ok: boolean) => void): void {
    if (!supportedLevel(packet.protocolVersion ?? 4)) levelRefused(m, log, client, packet.protocolVersion) // aedes answers (5)
    connectPackets.set(client, packet)
    done(null, true)
  }

  function authenticate(
    client: Client,
    username: Readonly<string | undefined>,
    password: Readonly<Buffer | undefined>,
    done: (err: AuthenticateError | null, ok: boolean | null) => void,
  ): void {
    const packet = connectPackets.get(client)
    connectPackets.delete(client)
    const remote = remoteOf(client)
    const refuse = (reason: ConnectRefuseReason): void => {
      // aedes has set this connection's id to the one claimed (maybe another's), and closing a
      // clean one deletes the QoS 2 state stored under it (lib/client.js close, cleanIncoming).
      client.clean = false
      m.connectRefused.inc({ reason })
      // Never the password: who tried, from where and why, summarised per interval (gate).
      ctx.gate.refused(reason, remote, username)
      done(refuseConnect(reason), false)
    }

    // Step 0: too many failed authentications from this address or for this name (HTTP's too).
    if (ctx.gate.blocked(remote, username)) return refuse('rate_limited')

    // Step 1: credentials present (clause 3.1.2.9: both flags; docs/mqtt.md: every client authenticates).
    if (!username || !password || password.length === 0) return refuse('missing_credentials')
    const secret = password.toString('utf8')

    // Step 2: who is it: an integration token or a device (clause 3.2.2.3 codes 4 and 5).
    let principal: Principal
    try {
      if (username === TOKEN_USERNAME) {
        const token = registry.authenticateToken(secret)
        if (!token) return refuse('bad_token')
        principal = { kind: 'integration', token }
      } else {
        const res = registry.authenticateDevice(username, secret)
        if (!res.ok) return refuse(res.reason)
        principal = { kind: 'device', device: res.device }
      }
    } catch (err) {
      log.error({ event: 'mqtt_auth_error', err: (err as Error).message }, 'registry failed during MQTT authentication')
      return refuse('registry_error')
    }

    // Step 3: the will must be a message this client could publish itself (clause 3.1.2.5), so
    // a device cannot leave a message on another device's topic by disconnecting.
    const will = packet?.will
    if (will) {
      if (principal.kind !== 'device' || !devicePublish(principal.device.id, will.topic).ok) return refuse('will_not_permitted')
    }

    // Step 4: the client id must be this principal's own, a new persistent session within its cap
    // (client-id.ts). aedes authenticates before it reads or cleans the session, replaces its will or
    // takes over a live client with that id (lib/handlers/connect.js fetchSubs, storeWill, registerClient).
    const clientId = packet?.clientId ?? client.id
    const clean = packet?.clean ?? client.clean
    const idRefused = persistentSessions.refusal(principal, clientId, clean)
    if (idRefused) return refuse(idRefused)

    // Step 5: a live session with this client id that belongs to someone else is not taken over
    // (clause 3.1.4-2 takeover is for the same client; across principals it would let one
    // device kick another off). Same principal: the normal takeover.
    const existing = clientsById()[client.id]
    if (existing && existing !== client) {
      const s = sessions.get(existing)
      if (s && principalKey(s.principal) !== principalKey(principal)) return refuse('client_id_in_use')
    }

    // Step 6: side effects last: the persistent-session count and the session table.
    persistentSessions.accepted(principal, clientId, clean)
    const statusTopic = principal.kind === 'device' ? deviceTopic.status(principal.device.id) : ''
    sessions.attach(client, principal, will?.topic === statusTopic)
    done(null, true)
  }

  function currentDevice(session: Session & { principal: { kind: 'device'; device: Device } }): Device | undefined {
    const now = Date.now()
    if (now - session.checkedAt < ctx.deviceRefreshMs) return session.principal.device
    session.checkedAt = now
    const fresh = registry.getDevice(session.principal.device.id)
    if (!fresh || fresh.state !== 'active') return undefined
    session.principal.device = fresh
    return fresh
  }

  function buildMessage(device: Device, packet: PublishPacket, subtopic: string): DevicePublish {
    return {
      device,
      topic: packet.topic,
      subtopic,
      payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
      qos: packet.qos,
      retain: packet.retain,
      receivedAt: Date.now(),
    }
  }

  /**
   * Runs the route handler and calls `done` once the message is durable (or refused for good), or
   * with the handler's error. A callback rather than a promise: this runs for every message, and
   * aedes takes a callback anyway.
   */
  function dispatch(route: RouteKey, msg: DevicePublish, done: (err: Error | null) => void): void {
    const handler = routes[route]
    if (!handler) {
      afterHandler(route, msg, false)
      return done(null)
    }
    const started = performance.now()
    let result: Promise<void>
    try {
      result = handler(msg)
    } catch (err) {
      return handled(route, msg, started, done, err as Error)
    }
    // Unnamed callbacks: the loader keeps function names by wrapping each named closure in a
    // defineProperty call when it is made, which per message is a cost of its own.
    result.then(
      () => handled(route, msg, started, done, null),
      (err: Error) => handled(route, msg, started, done, err),
    )
  }

  function handled(route: RouteKey, msg: DevicePublish, started: number, done: (err: Error | null) => void, err: Error | null): void {
    metricsOf(route).seconds.observe((performance.now() - started) / 1000)
    if (err) {
      m.handlerFailures.inc({ topic: route })
      log.warn({ event: 'mqtt_handler_failed', device: msg.device.id, topic: msg.topic, err: err.message }, 'device message not acknowledged: handler failed')
      return done(err)
    }
    afterHandler(route, msg, true)
    done(null)
  }

  function afterHandler(route: RouteKey, msg: DevicePublish, handled: boolean): void {
    if (route !== 'status') return
    const ev = parseStatus(msg.device.id, msg.payload, msg.receivedAt)
    if (!ev) return
    ctx.lastOnline.set(msg.device.id, ev.online)
    // The status route (ingest) emits `device-status` once the status is stored; without one
    // the broker does, so the bus hears of every status exactly once.
    if (!handled) emitStatus(ev)
  }

  function emitStatus(ev: DeviceStatusEvent): void {
    try {
      ctx.bus?.emit('device-status', ev)
    } catch (err) {
      // A consumer's bug must not undo the acknowledgement.
      log.error({ event: 'device_status_consumer_failed', device: ev.device, err: (err as Error).message }, 'device-status consumer failed')
    }
  }

  function refusePublish(client: Client | null, principal: Principal | undefined, topic: string, reason: RefuseReason, cb: (err?: Error | null) => void): void {
    m.publishRefused.inc({ reason })
    log.warn(
      { event: 'mqtt_publish_refused', client: safeText(client?.id), principal: principal ? principalKey(principal) : undefined, topic: safeText(topic), reason },
      'MQTT publish refused; connection closed',
    )
    cb(new Refusal(`publish refused: ${reason}`))
  }

  /**
   * Incoming PUBLISH (and will delivery). In aedes the PUBACK (QoS 1) and PUBREC (QoS 2) are
   * written only after this callback succeeds (lib/handlers/publish.js: authorizePublish, then
   * enqueuePublish), so awaiting the route handler here acknowledges only durable messages.
   * A refusal or a failed handler closes the connection without an acknowledgement: clause
   * 3.3.5 lets the server either acknowledge and drop or close the connection (MQTT-3.3.5-2);
   * closing makes a misconfigured device visible and, for a transient failure, makes a 3.1.1
   * client resend the unacknowledged message when it reconnects (clause 4.4).
   */
  function authorizePublish(client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    // Step 1: a will (client gone, or closing with this packet as its will).
    if (client === null || packet === (client as unknown as { will?: unknown }).will) {
      authorizeWill(client, packet, cb)
      return
    }
    // Step 2: the session of an authenticated client.
    const session = sessions.get(client)
    if (!session) return refusePublish(client, undefined, packet.topic, 'not_permitted', cb)
    // Step 3: integrations are read only (docs/mqtt.md "Integrations").
    if (session.principal.kind !== 'device') return refusePublish(client, session.principal, packet.topic, 'read_only', cb)
    // Step 4: the device as the registry has it now (at most deviceRefreshMs old).
    const device = currentDevice(session as Session & { principal: { kind: 'device'; device: Device } })
    if (!device) return refusePublish(client, session.principal, packet.topic, 'revoked', cb)
    // Step 5: the topic ACL.
    const d = devicePublish(device.id, packet.topic)
    if (!d.ok) return refusePublish(client, session.principal, packet.topic, d.reason, cb)
    // Step 6: only status is retained (docs/mqtt.md "devices/{id}/status"); a retained frame per
    // `frames/{ms}` topic would grow the retained store without bound. And only a valid status.
    packet.retain = d.route === 'status' && retention.retain(packet)
    metricsOf(d.route).messages.inc()
    // Step 7: the route, awaited before the acknowledgement.
    dispatch(d.route, buildMessage(device, packet, d.subtopic), (err) => {
      if (err) return cb(err)
      corkUntilTick(client.conn as unknown as { cork?: () => void; uncork?: () => void })
      cb(null)
    })
  }

  function authorizeWill(client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    // Step 1: whose will. A will of a client that is gone (persisted wills) names its device.
    let device: Device | undefined
    let session: Session | undefined
    if (client) {
      session = sessions.get(client)
      if (session?.principal.kind === 'device') device = session.principal.device
    } else {
      const id = /^devices\/([^/]+)\/status$/.exec(packet.topic)?.[1]
      device = id ? registry.getDevice(id) : undefined
    }
    if (!device) return cb(new Refusal('will without a device'))
    // Step 2: the will topic was checked at CONNECT; checked again (cheap, and covers persisted wills).
    const d = devicePublish(device.id, packet.topic)
    if (!d.ok) return cb(new Refusal(`will refused: ${d.reason}`))
    // Step 3: a newer session of the same device is live: its own status wins, the will is dropped.
    const others = sessions.deviceClients(device.id).filter((c) => c !== client)
    if (others.length > 0 && d.route === 'status') return cb(new Refusal('will superseded by a live session'))
    packet.retain = d.route === 'status' && retention.retain(packet)
    // An invalid status will says nothing to subscribers: the gateway publishes the offline status.
    if (client && packet.retain) ctx.willStarted.add(client)
    metricsOf(d.route).messages.inc()
    dispatch(d.route, buildMessage(device, packet, d.subtopic), cb)
  }

  /**
   * SUBSCRIBE, one filter at a time. A refused filter gets return code 0x80 in the SUBACK
   * (clause 3.9.3; aedes sends 0x80 when the callback returns a null subscription) and the
   * connection stays open.
   */
  function authorizeSubscribe(client: Client, sub: Subscription, cb: (err: Error | null, sub?: Subscription | null) => void): void {
    // Step 1: the session.
    const session = sessions.get(client)
    // Step 2: the filter's length, the ACL for this principal, the filters the client holds.
    const d = subscriptionCaps.decide(client, sub, () =>
      !session
        ? { ok: false, reason: 'not_permitted' }
        : session.principal.kind === 'device'
          ? deviceSubscribe(session.principal.device.id, sub.topic)
          : integrationSubscribe(session.principal.token.role, sub.topic),
    )
    if (!d.ok) {
      m.subscribeRefused.inc({ reason: d.reason })
      log.warn(
        { event: 'mqtt_subscribe_refused', client: safeText(client.id), principal: session ? principalKey(session.principal) : undefined, topic: safeText(sub.topic), reason: d.reason },
        'MQTT subscribe refused (SUBACK 0x80)',
      )
      return cb(null, null)
    }
    // Step 3: the gateway serves QoS 0 and 1 (docs/mqtt.md); the granted QoS is capped at 1 (clause 3.9.3 lets the
    // server grant a lower maximum QoS than requested).
    if (sub.qos > 1) sub.qos = 1
    cb(null, sub)
  }

  /** Every delivery to a subscriber, retained ones included (defence in depth, see acl.ts). */
  function authorizeForward(client: Client, packet: import('aedes').AedesPublishPacket) {
    const session = sessions.get(client)
    if (!session) return null
    if (retention.withheld(packet.payload)) {
      m.forwardRefused.inc({ reason: 'invalid_status' })
      return null
    }
    const ok = mayForward(
      session.principal.kind === 'device'
        ? { kind: 'device', deviceId: session.principal.device.id }
        : { kind: 'integration', role: session.principal.token.role },
      packet.topic,
    )
    if (ok) return packet
    // `$SYS` traffic reaches no client; not worth a counter per heartbeat.
    if (!packet.topic.startsWith('$')) m.forwardRefused.inc({ reason: 'not_permitted' })
    return null
  }

  return { preConnect, authenticate, authorizePublish, authorizeSubscribe, authorizeForward, emitStatus }
}
