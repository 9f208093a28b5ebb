import { InfluxTuningSchema, SqliteTuningSchema } from '../store/config.ts'
import Type from 'typebox'

// One schema per capability; each capability reads only its own section.

const Port = Type.Integer({ minimum: 0, maximum: 65535 })

export const TlsSchema = Type.Object(
  {
    cert: Type.String({ minLength: 1, description: 'PEM certificate file' }),
    key: Type.String({ minLength: 1, description: 'PEM private key file' }),
  },
  { additionalProperties: false },
)

export const ServerSection = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, default: './data' }),
    logLevel: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
    /** This node's name in a cluster (leases, peers, metrics); stable across restarts. Unset: the host name. */
    nodeId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' })),
    /**
     * The server key's file (docs/operations.md "Server key"), made on first start when missing.
     * Unset: server.key in dataDir. The nodes of a cluster may all name one file on a shared volume.
     */
    keyFile: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false, default: {} },
)

export const HttpSection = Type.Object(
  {
    host: Type.String({ default: '0.0.0.0' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
    tls: Type.Optional(TlsSchema),
    /** Failed authentications allowed per client address per minute before 429. */
    /** Failed authentications allowed per client address per minute, over HTTP and MQTT together, before 429 / CONNACK 5. */
    authFailuresPerMinute: Type.Integer({ minimum: 1, default: 20 }),
    /** Failed authentications allowed per user name (a device id over MQTT) per minute, from any address. */
    authFailuresPerUsernamePerMinute: Type.Integer({ minimum: 1, default: 60 }),
    /** Behind a reverse proxy: take the client address from X-Forwarded-For (the failed-auth limit is per address). */
    trustProxy: Type.Boolean({ default: false }),
  },
  { additionalProperties: false, default: {} },
)

export const MqttSection = Type.Object(
  {
    host: Type.String({ default: '0.0.0.0' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 1883 }),
    wsPort: Type.Integer({ minimum: 0, maximum: 65535, default: 8083 }),
    wsPath: Type.String({ pattern: '^/', default: '/mqtt' }),
    tlsPort: Type.Integer({ minimum: 0, maximum: 65535, default: 8883 }),
    tls: Type.Optional(TlsSchema),
    /** The URL handed to devices in their credentials; defaults to mqtt://<this host>:<port>. */
    publicUrl: Type.Optional(Type.String({ pattern: '^mqtts?://' })),
    /** QoS 1 messages held per persistent session (unacknowledged, or waiting while it is offline); past it the oldest is dropped. */
    maxQueuedMessages: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1000 }),
    /** Topic filters one client may hold; past it a filter gets SUBACK 0x80. */
    maxSubscriptionsPerClient: Type.Integer({ minimum: 2, maximum: 100_000, default: 1000 }),
    /** Bytes (UTF-8) of one topic filter at most; a longer one gets SUBACK 0x80. */
    maxTopicFilterBytes: Type.Integer({ minimum: 64, maximum: 65_535, default: 256 }),
    /** Client ids with a persistent session (clean session 0) per device or token; a new one past it gets CONNACK 2. */
    maxPersistentSessionsPerIdentity: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
    /** Bytes a client may send before its CONNACK (a CONNECT is a few hundred bytes). */
    maxConnectBytes: Type.Integer({ minimum: 1024, maximum: 2 * 1024 * 1024, default: 64 * 1024 }),
    /** Bytes all clients without a CONNACK may have sent together. */
    preAuthBudgetBytes: Type.Integer({ minimum: 64 * 1024, default: 16 * 1024 * 1024 }),
    /** MQTT sockets one address may hold (TCP, TLS and WebSocket together); generous for NAT'd field routers. */
    maxConnectionsPerAddress: Type.Integer({ minimum: 1, default: 500 }),
    /** MQTT sockets all addresses may hold; unset: the open-file limit less a tenth of it (at least 1,024), room kept for the API. */
    maxConnections: Type.Optional(Type.Integer({ minimum: 1 })),
    /** A socket without CONNACK after this long is closed (WebSocket and TLS handshakes included), ms. */
    connectTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
    /** Time one packet may take to arrive once its first byte came, ms; 0: no bound. */
    packetTimeoutMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 30_000 }),
    /**
     * Behind a TCP load balancer (HAProxy `send-proxy-v2`): every connection on the TCP and TLS
     * listeners starts with a PROXY protocol v1 or v2 header naming the client; one without is closed.
     */
    proxyProtocol: Type.Boolean({ default: false }),
  },
  { additionalProperties: false, default: {} },
)

export const InfluxSection = Type.Object(
  {
    /** http://host:8086/database; when set, time series go to InfluxDB instead of SQLite. */
    url: Type.Optional(Type.String({ pattern: '^https?://' })),
    /**
     * Several InfluxDB servers instead of `url` (never both; 1.x open source has no clustering):
     * every point is written to each, reads go to the first healthy one (docs/operations.md "InfluxDB pair").
     */
    urls: Type.Optional(
      Type.Array(Type.String({ pattern: '^https?://[^/?#\\s]+/[^/?#\\s]+/?$', description: 'http(s)://host:port/database' }), {
        minItems: 1,
        uniqueItems: true,
      }),
    ),
    ...InfluxTuningSchema.properties,
  },
  { additionalProperties: false, default: {} },
)

/**
 * Cluster mode (docs/operations.md "Several nodes"): shared state in PostgreSQL, MQTT sessions and
 * messages through Redis. Both unset: the embedded single-process gateway.
 */
export const PostgresSection = Type.Object(
  {
    /** postgres://user:password@host:5432/db; registry, users, alerts, outbox and leases go there. */
    url: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
    /** A node's lease lasts this long without renewal (renewed every third of it); a dead node's work moves after about 4/3 of it. */
    leaseTtlMs: Type.Integer({ minimum: 1000, maximum: 600_000, default: 10_000 }),
  },
  { additionalProperties: false, default: {} },
)

export const RedisSection = Type.Object(
  {
    /** redis://host:6379/0; MQTT routing, sessions, queues and retained messages shared by the nodes. */
    url: Type.Optional(Type.String({ pattern: '^rediss?://' })),
    /** How often each node says it is alive, ms; the wills of a dead node's clients are out within about 7 × this. */
    heartbeatMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 2000 }),
  },
  { additionalProperties: false, default: {} },
)

/** The embedded SQLite time series (used when neither `influx.url` nor `influx.urls` is set). */
export const TimeseriesSection = Type.Object(SqliteTuningSchema.properties, { additionalProperties: false, default: {} })

export const AuthSection = Type.Object(
  {
    /** Bootstrap admin token; when unset one is made at first start and printed once. */
    adminToken: Type.Optional(Type.String({ minLength: 16 })),
    /** A console session unused this many minutes ends (401; the user logs in again). */
    sessionIdleMinutes: Type.Integer({ minimum: 1, maximum: 1440, default: 30 }),
    /** A console session ends this many hours after login, however busy. */
    sessionMaxHours: Type.Integer({ minimum: 1, maximum: 720, default: 12 }),
    /** Failed logins allowed per user name per minute before 429 (http.authFailuresPerMinute limits each address too). */
    loginFailuresPerUserPerMinute: Type.Integer({ minimum: 1, default: 10 }),
  },
  { additionalProperties: false, default: {} },
)

export const ModelsSection = Type.Object(
  {
    dir: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false, default: {} },
)

export { Port }
