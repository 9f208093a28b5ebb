// What the broker's hook steps share (connect-steps.ts, publish-steps.ts, subscribe-steps.ts):
// the context the broker gives createHooks, and the few tables the hooks keep of their own.
import type { Aedes, Client, ConnectPacket, PublishPacket } from 'aedes'
import type { GatewayBus } from '../bus/events.ts'
import type { Logger } from '../log/logger.ts'
import type { DeviceRegistry } from '../registry/types.ts'
import type { AuthGate } from './auth-gate.ts'
import type { PersistentSessions } from './client-id.ts'
import type { SharedPersistentSessions } from './redis-sessions.ts'
import type { BrokerMetrics } from './metrics.ts'
import type { Sessions } from './sessions.ts'
import type { StatusRetention } from './status.ts'
import type { SubscriptionCaps } from './subscription-caps.ts'
import type { DevicePublishRoutes, RouteKey } from './types.ts'

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
  /** Cluster mode: the same cap kept in Redis for every node (redis-sessions.ts); replaces persistentSessions. */
  sharedSessions?: SharedPersistentSessions | undefined
  /** Cluster mode: whether a local client was taken over by a session on another node (cluster.ts). */
  movedAway?: ((clientId: string) => boolean) | undefined
  subscriptionCaps: SubscriptionCaps // filter length and count per client
  /**
   * Cluster mode: routes an accepted QoS 1 message (queued in Redis for offline persistent
   * sessions, sent to the other nodes) before its PUBACK is written (broker.ts).
   */
  routeBeforeAck?: ((client: Client, packet: PublishPacket, cb: (err?: Error | null) => void) => void) | undefined
}

export interface RouteMetrics {
  messages: { inc(): void }
  seconds: { observe(s: number): void }
}

/** The HookContext and the hooks' own tables. */
export interface HookState extends HookContext {
  retention: StatusRetention
  /** CONNECT packets between preConnect and authenticate (for the will topic). */
  connectPackets: WeakMap<Client, ConnectPacket>
  // Metric children made once per route: these run for every message.
  routeMetrics: Map<RouteKey, RouteMetrics>
}

export function metricsOf(hs: HookState, route: RouteKey): RouteMetrics {
  let r = hs.routeMetrics.get(route)
  if (!r) {
    r = { messages: hs.m.messagesInOf(route), seconds: hs.m.handlerSeconds.labels({ topic: route }) }
    hs.routeMetrics.set(route, r)
  }
  return r
}

/** Attacker-chosen text going into a log line: bounded and printable. */
export function safeText(s: string | undefined): string | undefined {
  return s === undefined ? undefined : s.slice(0, 80).replace(/[^\x20-\x7e]/g, '?')
}

/**
 * Error that also closes the connection without an acknowledgement (aedes behaviour). For a will,
 * a refusal is for good (the will sweep drops the will, will-sweep.ts); `reason` says why.
 */
export class Refusal extends Error {
  constructor(
    message: string,
    readonly reason: string = 'refused',
  ) {
    super(message)
  }
}
