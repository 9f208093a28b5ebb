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

/** Environment variables of README.md "Configuration", each mapped to a config key. */
export const ENV_KEYS: ReadonlyArray<{ env: string; key: string; type: 'string' | 'integer' }> = [
  { env: 'IOC_DATA_DIR', key: 'server.dataDir', type: 'string' },
  { env: 'IOC_LOG_LEVEL', key: 'server.logLevel', type: 'string' },
  { env: 'IOC_HTTP_PORT', key: 'http.port', type: 'integer' },
  { env: 'IOC_MQTT_PORT', key: 'mqtt.port', type: 'integer' },
  { env: 'IOC_MQTT_WS_PORT', key: 'mqtt.wsPort', type: 'integer' },
  { env: 'IOC_INFLUX_URL', key: 'influx.url', type: 'string' },
  { env: 'IOC_ADMIN_TOKEN', key: 'auth.adminToken', type: 'string' },
  { env: 'IOC_MODELS_DIR', key: 'models.dir', type: 'string' },
  { env: 'IOC_NODE_ID', key: 'server.nodeId', type: 'string' },
  { env: 'IOC_POSTGRES_URL', key: 'postgres.url', type: 'string' },
  { env: 'IOC_REDIS_URL', key: 'redis.url', type: 'string' },
  { env: 'IOC_REDIS_HEARTBEAT_MS', key: 'redis.heartbeatMs', type: 'integer' },
]
