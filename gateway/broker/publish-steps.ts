// PUBLISH (and will delivery): the guards in order (publishGuards), then the route handler,
// awaited before the acknowledgement, as aedes runs authorizePublish before enqueuePublish
// (lib/handlers/publish.js publishActions).
import type { Client, PublishPacket } from 'aedes'
import type { DeviceStatusEvent } from '../bus/events.ts'
import type { Device } from '../registry/types.ts'
import { devicePublish, type PublishDecision } from './acl.ts'
import { metricsOf, Refusal, safeText, type HookState } from './hook-state.ts'
import { principalKey, type Principal, type Session } from './sessions.ts'
import { parseStatus } from './status.ts'
import type { DevicePublish, RefuseReason, RouteKey } from './types.ts'

/** One client PUBLISH, as the guards see it; each guard fills in what the next one needs. */
interface PublishAttempt {
  client: Client
  packet: PublishPacket
  session: Session | undefined
  device: Device | undefined
  decision: PublishDecision | undefined
}

/** Synchronous except when it must read the registry (a stale device record): then a promise. */
type PublishGuard = (hs: HookState, a: PublishAttempt) => RefuseReason | undefined | Promise<RefuseReason | undefined>

/** Guards first (the first refusal closes the connection), then retainOnlyStatus and dispatch. */
const publishGuards: readonly PublishGuard[] = [authenticatedSession, devicesOnly, deviceStillActive, topicPermitted]

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

/**
 * Incoming PUBLISH (and will delivery). In aedes the PUBACK (QoS 1) and PUBREC (QoS 2) are
 * written only after this callback succeeds (lib/handlers/publish.js: authorizePublish, then
 * enqueuePublish), so awaiting the route handler here acknowledges only durable messages.
 * A refusal or a failed handler closes the connection without an acknowledgement: clause
 * 3.3.5 lets the server either acknowledge and drop or close the connection (MQTT-3.3.5-2);
 * closing makes a misconfigured device visible and, for a transient failure, makes a 3.1.1
 * client resend the unacknowledged message when it reconnects (clause 4.4).
 */
export function authorizePublish(hs: HookState, client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void): void {
  // Step 1: a will (client gone, or closing with this packet as its will).
  if (client === null || packet === (client as unknown as { will?: unknown }).will) {
    authorizeWill(hs, client, packet, cb)
    return
  }
  const attempt: PublishAttempt = { client, packet, session: undefined, device: undefined, decision: undefined }
  runGuards(hs, attempt, 0, cb)
}

/**
 * The guards from `from` on, in this tick while each answers at once; a guard that must wait (a
 * stale device record, read at most once per deviceRefreshMs per session) resumes the rest when
 * its answer comes.
 */
function runGuards(hs: HookState, a: PublishAttempt, from: number, cb: (err?: Error | null) => void): void {
  for (let i = from; i < publishGuards.length; i++) {
    const reason = publishGuards[i]!(hs, a)
    if (reason === undefined) continue
    if (typeof reason === 'string') return refusePublish(hs, a.client, a.session?.principal, a.packet.topic, reason, cb)
    reason.then(
      (r) => (r ? refusePublish(hs, a.client, a.session?.principal, a.packet.topic, r, cb) : runGuards(hs, a, i + 1, cb)),
      (err: Error) => cb(err),
    )
    return
  }
  const client = a.client
  const device = a.device!
  const d = a.decision as PublishDecision & { ok: true }
  retainOnlyStatus(hs, a.packet, d.route)
  metricsOf(hs, d.route).messages.inc()
  // Step 7: the route, awaited before the acknowledgement.
  dispatch(hs, d.route, buildMessage(device, a.packet, d.subtopic), (err) => {
    if (err) return cb(err)
    // Step 8 (cluster mode): the message queued and sent on, then the acknowledgement.
    if (hs.routeBeforeAck && a.packet.qos === 1) return hs.routeBeforeAck(client, a.packet, (e) => (e ? cb(e) : acknowledge(client, cb)))
    acknowledge(client, cb)
  })
}

function acknowledge(client: Client, cb: (err?: Error | null) => void): void {
  corkUntilTick(client.conn as unknown as { cork?: () => void; uncork?: () => void })
  cb(null)
}

/** Step 2: the session of an authenticated client. */
function authenticatedSession(hs: HookState, a: PublishAttempt): RefuseReason | undefined {
  a.session = hs.sessions.get(a.client)
  return a.session ? undefined : 'not_permitted'
}

/** Step 3: integrations are read only (docs/mqtt.md "Integrations"). */
function devicesOnly(_hs: HookState, a: PublishAttempt): RefuseReason | undefined {
  return a.session!.principal.kind !== 'device' ? 'read_only' : undefined
}

/** Step 4: the device as the registry has it now (at most deviceRefreshMs old). */
function deviceStillActive(hs: HookState, a: PublishAttempt): RefuseReason | undefined | Promise<RefuseReason | undefined> {
  const session = a.session as DeviceSession
  if (Date.now() - session.checkedAt < hs.deviceRefreshMs) {
    a.device = session.principal.device
    return undefined
  }
  // Publishes of one session arriving while the record is read share that one read.
  session.refreshing ??= refreshDevice(hs, session)
  return session.refreshing.then((device) => {
    a.device = device
    return device ? undefined : 'revoked'
  })
}

/** Step 5: the topic ACL. */
function topicPermitted(_hs: HookState, a: PublishAttempt): RefuseReason | undefined {
  const d = devicePublish(a.device!.id, a.packet.topic)
  a.decision = d
  return d.ok ? undefined : d.reason
}

/**
 * Step 6: only status is retained (docs/mqtt.md "devices/{id}/status"); a retained frame per
 * `frames/{ms}` topic would grow the retained store without bound. And only a valid status.
 */
function retainOnlyStatus(hs: HookState, packet: PublishPacket, route: RouteKey): void {
  packet.retain = route === 'status' && hs.retention.retain(packet)
}

function authorizeWill(hs: HookState, client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void): void {
  // Step 1: whose will. A will of a client that is gone (persisted wills) names its device.
  if (client) {
    const session = hs.sessions.get(client)
    return authorizeDeviceWill(hs, client, packet, session?.principal.kind === 'device' ? session.principal.device : undefined, cb)
  }
  const id = /^devices\/([^/]+)\/status$/.exec(packet.topic)?.[1]
  if (!id) return authorizeDeviceWill(hs, client, packet, undefined, cb)
  hs.registry.getDevice(id).then(
    (device) => authorizeDeviceWill(hs, client, packet, device, cb),
    (err: Error) => cb(err),
  )
}

function authorizeDeviceWill(
  hs: HookState,
  client: Client | null,
  packet: PublishPacket,
  device: Device | undefined,
  cb: (err?: Error | null) => void,
): void {
  if (!device) return cb(new Refusal('will without a device', 'unknown_device'))
  // Step 2: the will topic was checked at CONNECT; checked again (cheap, and covers persisted wills).
  const d = devicePublish(device.id, packet.topic)
  if (!d.ok) return cb(new Refusal(`will refused: ${d.reason}`, d.reason))
  // Step 3: a newer session of the same device is live: its own status wins, the will is dropped.
  const others = hs.sessions.deviceClients(device.id).filter((c) => c !== client)
  if (others.length > 0 && d.route === 'status') return cb(new Refusal('will superseded by a live session', 'superseded'))
  // Cluster mode: the session was taken over by a connection to another node, where it is live.
  if (client && d.route === 'status' && hs.movedAway?.(client.id))
    return cb(new Refusal('will superseded by a session on another node', 'superseded'))
  retainOnlyStatus(hs, packet, d.route)
  // An invalid status will says nothing to subscribers: the gateway publishes the offline status.
  if (client && packet.retain) hs.willStarted.add(client)
  metricsOf(hs, d.route).messages.inc()
  dispatch(hs, d.route, buildMessage(device, packet, d.subtopic), cb)
}

function refusePublish(
  hs: HookState,
  client: Client | null,
  principal: Principal | undefined,
  topic: string,
  reason: RefuseReason,
  cb: (err?: Error | null) => void,
): void {
  hs.m.publishRefused.inc({ reason })
  hs.log.warn(
    {
      event: 'mqtt_publish_refused',
      client: safeText(client?.id),
      principal: principal ? principalKey(principal) : undefined,
      topic: safeText(topic),
      reason,
    },
    'MQTT publish refused; connection closed',
  )
  cb(new Refusal(`publish refused: ${reason}`, reason))
}

type DeviceSession = Session & { principal: { kind: 'device'; device: Device } }

/**
 * The device as the registry has it now. A registry that cannot answer leaves the record as it
 * was (every change goes through the registry, so none can have happened) and is asked again at
 * the next publish; revocations reach the session by event meanwhile.
 */
async function refreshDevice(hs: HookState, session: DeviceSession): Promise<Device | undefined> {
  const id = session.principal.device.id
  try {
    const fresh = await hs.registry.getDevice(id)
    session.checkedAt = Date.now()
    if (!fresh || fresh.state !== 'active') return undefined
    session.principal.device = fresh
    return fresh
  } catch (err) {
    hs.log.warn({ event: 'mqtt_device_refresh_failed', device: id, err: (err as Error).message }, 'device record not refreshed')
    return session.principal.device
  } finally {
    session.refreshing = undefined
  }
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
function dispatch(hs: HookState, route: RouteKey, msg: DevicePublish, done: (err: Error | null) => void): void {
  const handler = hs.routes[route]
  if (!handler) {
    afterHandler(hs, route, msg, false)
    return done(null)
  }
  const started = performance.now()
  let result: Promise<void>
  try {
    result = handler(msg)
  } catch (err) {
    return handled(hs, route, msg, started, done, err as Error)
  }
  // Unnamed callbacks: the loader keeps function names by wrapping each named closure in a
  // defineProperty call when it is made, which per message is a cost of its own.
  result.then(
    () => handled(hs, route, msg, started, done, null),
    (err: Error) => handled(hs, route, msg, started, done, err),
  )
}

function handled(
  hs: HookState,
  route: RouteKey,
  msg: DevicePublish,
  started: number,
  done: (err: Error | null) => void,
  err: Error | null,
): void {
  metricsOf(hs, route).seconds.observe((performance.now() - started) / 1000)
  if (err) {
    hs.m.handlerFailures.inc({ topic: route })
    hs.log.warn(
      { event: 'mqtt_handler_failed', device: msg.device.id, topic: msg.topic, err: err.message },
      'device message not acknowledged: handler failed',
    )
    return done(err)
  }
  afterHandler(hs, route, msg, true)
  done(null)
}

function afterHandler(hs: HookState, route: RouteKey, msg: DevicePublish, handled: boolean): void {
  if (route !== 'status') return
  const ev = parseStatus(msg.device.id, msg.payload, msg.receivedAt)
  if (!ev) return
  hs.lastOnline.set(msg.device.id, ev.online)
  // The status route (ingest) emits `device-status` once the status is stored; without one
  // the broker does, so the bus hears of every status exactly once.
  if (!handled) emitStatus(hs, ev)
}

export function emitStatus(hs: HookState, ev: DeviceStatusEvent): void {
  try {
    hs.bus?.emit('device-status', ev)
  } catch (err) {
    // A consumer's bug must not undo the acknowledgement.
    hs.log.error(
      { event: 'device_status_consumer_failed', device: ev.device, err: (err as Error).message },
      'device-status consumer failed',
    )
  }
}
