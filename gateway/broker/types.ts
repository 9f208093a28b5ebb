import type { Device } from '../registry/types.ts'

/** A message a device published under `devices/{id}/`, already past authentication and the ACL. */
export interface DevicePublish {
  device: Device
  /** Full topic, e.g. `devices/kim-long-01/telemetry`. */
  topic: string
  /** What follows `devices/{id}/`, e.g. `telemetry`, `status`, `frames/1700000000000`, `cmd/ack`. */
  subtopic: string
  payload: Buffer
  qos: 0 | 1 | 2
  retain: boolean
  /** Arrival time, epoch ms. */
  receivedAt: number
}

/**
 * Handles one device publish. The broker awaits it before acknowledging (PUBACK for QoS 1), so a
 * handler resolves only once the message is durable or deliberately refused:
 * - resolve: accepted (or refused for good, e.g. invalid payload: the handler counts and records
 *   the reason itself; the device must not resend what can never be accepted);
 * - reject: a transient failure (store and its disk buffer unavailable); the broker does not
 *   acknowledge, so a QoS 1 publisher sends it again.
 */
export type DevicePublishHandler = (msg: DevicePublish) => Promise<void>

/** Subtopic routes: first segment of the subtopic (`telemetry`, `status`, `frames`, `cmd`). */
export type DevicePublishRoutes = Partial<Record<'telemetry' | 'status' | 'frames' | 'cmd', DevicePublishHandler>>

/** Route a permitted device publish goes to (`cmd/ack` goes to `cmd`). */
export type RouteKey = keyof DevicePublishRoutes

/** Why a PUBLISH, SUBSCRIBE or delivery was refused (the `reason` label of the refusal counters). */
export type RefuseReason =
  | 'reserved_topic' // `$SYS/...` and other `$` topics (MQTT 4.7.2)
  | 'wildcard' // `#` or `+` where docs/mqtt.md gives none
  | 'other_device' // another device's `devices/{id}/...`
  | 'not_permitted' // outside the topic list of docs/mqtt.md for this client
  | 'read_only' // integrations publish nothing
  | 'role' // the integration's role does not read this
  | 'revoked' // the device is no longer active (its session is being closed)
  | 'filter_too_long' // a topic filter over mqtt.maxTopicFilterBytes
  | 'too_many_subscriptions' // the client already holds mqtt.maxSubscriptionsPerClient filters
  | 'invalid_status' // a status that is not a status document is not delivered (docs/mqtt.md)

/** Why a CONNECT was refused (the `reason` label of `mqtt_connect_refused_total`). */
export type ConnectRefuseReason =
  | 'missing_credentials'
  | 'unknown_device'
  | 'bad_secret'
  | 'bad_token'
  | 'device_disabled'
  | 'device_decommissioned'
  | 'will_not_permitted'
  | 'client_id_in_use'
  | 'client_id_not_owned' // not the principal's own id nor `{own id}:{suffix}` (client-id.ts)
  | 'persistent_session_limit' // a new clean-session-0 id past mqtt.maxPersistentSessionsPerIdentity
  | 'protocol_level' // not MQTT 3.1.1 or 3.1 (MQTT-3.1.2-2, CONNACK 1)
  | 'registry_error'
  | 'session_store_error' // cluster mode: Redis could not answer the persistent-session check
  | 'rate_limited' // too many failed authentications (gateway/security/auth-failures.ts)

export interface BrokerTls {
  /** PEM certificate file. */
  cert: string
  /** PEM private key file. */
  key: string
}

/** The `mqtt` config section (gateway/config/sections.ts MqttSection) as the broker reads it. */
export interface BrokerConfig {
  host: string
  port: number
  wsPort: number
  wsPath: string
  /** Listened on only when `tls` is given. */
  tlsPort?: number | undefined
  tls?: BrokerTls | undefined
  /** QoS 1 messages held per persistent session; past it the oldest is dropped (default 1000). */
  maxQueuedMessages?: number | undefined
  /** Topic filters one client may hold (default 1000); past it SUBACK 0x80. */
  maxSubscriptionsPerClient?: number | undefined
  /** Bytes of one topic filter at most (default 256); longer: SUBACK 0x80. */
  maxTopicFilterBytes?: number | undefined
  /** Client ids with a persistent session (clean session 0) per device or token (default 10). */
  maxPersistentSessionsPerIdentity?: number | undefined
  /** Bytes a client may send before its CONNACK (default 64 KiB). */
  maxConnectBytes?: number | undefined
  /** Bytes all clients without CONNACK may have sent together (default 16 MiB). */
  preAuthBudgetBytes?: number | undefined
  /** Sockets one address may hold on the MQTT listeners (default 500). */
  maxConnectionsPerAddress?: number | undefined
  /** Sockets all MQTT listeners may hold (default: the open-file limit less a tenth, conn-guard.ts). */
  maxConnections?: number | undefined
  /** A socket without CONNACK after this long is closed, ms (default 10,000). */
  connectTimeoutMs?: number | undefined
  /** Time one packet may take to arrive once its first byte came, ms (default 30,000; 0: no bound). */
  packetTimeoutMs?: number | undefined
  /** TCP and TLS connections start with a PROXY protocol header naming the client (default false). */
  proxyProtocol?: boolean | undefined
}

/** Actual ports after listen (config port 0 means any free port). */
export interface BrokerPorts {
  mqtt: number
  ws: number
  tls?: number | undefined
}

export interface GatewayPublishOptions {
  qos: 0 | 1
  retain: boolean
}

export interface GatewayBroker {
  listen(): Promise<BrokerPorts>
  /** Graceful: stop accepting, close every client, release the ports. */
  close(): Promise<void>
  /** A gateway-originated message (alerts/..., devices/{id}/config, devices/{id}/cmd). */
  publish(topic: string, payload: string | Buffer, opts: GatewayPublishOptions): Promise<void>
  /**
   * Closes every live MQTT session of an integration token (call after deleting the token; the
   * registry's revocation events cover devices only). Returns how many were closed.
   */
  closeTokenSessions(tokenId: string): number
  /** Clients past CONNACK. */
  connectedCount(): number
  /** MQTT sockets held now (any listener, with or without CONNACK), addresses they come from, bytes held before CONNACK. */
  socketStats(): { sockets: number; addresses: number; preAuthBytes: number }
  /** True while listening (for /readyz). */
  ready(): boolean
  /** Cluster mode: whether every Redis connection is ready (for /readyz); undefined without Redis. */
  redisUp(): boolean | undefined
}
