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
  | 'registry_error'

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
  /** True while listening (for /readyz). */
  ready(): boolean
}
