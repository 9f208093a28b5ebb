import Type, { type Static } from 'typebox'
import { AlertsSection } from '../alerts/config.ts'
import { ConsoleSection } from '../console/config.ts'
import { IngestSection } from '../ingest/config.ts'
import { NotifySection } from '../notify/config.ts'
import { ReportsSection } from '../reports/config.ts'
import { VisionSection } from '../vision/config.ts'
import { WebhooksSection } from '../webhooks/config.ts'
import {
  AuthSection,
  HttpSection,
  InfluxSection,
  ModelsSection,
  MqttSection,
  PostgresSection,
  RedisSection,
  ServerSection,
  TimeseriesSection,
} from './sections.ts'

export const ConfigSchema = Type.Object(
  {
    server: ServerSection,
    http: HttpSection,
    mqtt: MqttSection,
    influx: InfluxSection,
    timeseries: TimeseriesSection,
    postgres: PostgresSection,
    redis: RedisSection,
    auth: AuthSection,
    models: ModelsSection,
    ingest: IngestSection,
    alerts: AlertsSection,
    notify: NotifySection,
    vision: VisionSection,
    reports: ReportsSection,
    console: ConsoleSection,
    webhooks: WebhooksSection,
  },
  { additionalProperties: false },
)

export type GatewayConfig = Static<typeof ConfigSchema>

/** The keys README.md "Configuration" also takes from the environment. */
const ENV_CONFIG_KEYS = [
  'server.dataDir',
  'server.logLevel',
  'server.nodeId',
  'server.keyFile',
  'http.port',
  'mqtt.port',
  'mqtt.wsPort',
  'influx.url',
  'auth.adminToken',
  'models.dir',
  'postgres.url',
  'redis.url',
  'redis.heartbeatMs',
] as const

/** A key's words as its flag and environment variable spell them: `server.` dropped, camelCase split (mqtt.wsPort → mqtt, ws, port). */
function keyWords(key: string): string[] {
  return key
    .replace(/^server\./, '')
    .replace(/[A-Z]/g, (c) => `.${c.toLowerCase()}`)
    .split('.')
}

/** A key's command-line flag: http.port → --http-port, server.dataDir → --data-dir. */
export const flagName = (key: string): string => `--${keyWords(key).join('-')}`

/** A key's environment variable: mqtt.wsPort → IOC_MQTT_WS_PORT; the admin token keeps its shorter, published name. */
const envName = (key: string): string => (key === 'auth.adminToken' ? 'IOC_ADMIN_TOKEN' : `IOC_${keyWords(key).join('_').toUpperCase()}`)

/** What keyType reads of a TypeBox schema (plain JSON Schema). */
interface SchemaNode {
  type?: unknown
  properties?: Record<string, SchemaNode>
  anyOf?: SchemaNode[]
  enum?: unknown[]
}

/** The type of a key in ConfigSchema (an enum or union of strings is a string): what its environment variable or flag is read as. */
export function keyType(key: string): 'string' | 'integer' | undefined {
  let node: SchemaNode | undefined = ConfigSchema as SchemaNode
  for (const part of key.split('.')) node = node?.properties?.[part]
  const types = new Set(
    node?.enum?.map((v) => (typeof v === 'string' ? 'string' : undefined)) ?? (node?.anyOf ?? (node ? [node] : [])).map((n) => n.type),
  )
  const [type] = types
  return types.size === 1 && (type === 'string' || type === 'integer') ? type : undefined
}

/** Environment variables of README.md "Configuration", each mapped to a config key. */
export const ENV_KEYS: ReadonlyArray<{ env: string; key: string; type: 'string' | 'integer' }> = ENV_CONFIG_KEYS.map((key) => {
  const type = keyType(key)
  if (!type) throw new Error(`config: ${key} has no string or integer type in ConfigSchema`)
  return { env: envName(key), key, type }
})
