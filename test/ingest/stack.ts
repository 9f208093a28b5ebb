import { mkdirSync } from 'node:fs'
import { createBroker } from '../../gateway/broker/index.ts'
import type { DevicePublishHandler, GatewayBroker } from '../../gateway/broker/types.ts'
import { GatewayBus } from '../../gateway/bus/events.ts'
import { loadStations } from '../../gateway/domain/stations.ts'
import { createIngest, type Ingest, type IngestConfig } from '../../gateway/ingest/index.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import type { DeviceRegistry } from '../../gateway/registry/types.ts'
import { openTimeSeriesStore, type OpenStoreOptions, type TimeSeriesStore } from '../../gateway/store/index.ts'

/**
 * The telemetry path of the gateway, in-process with real parts: SQLite registry, aedes broker on
 * a TCP port, ingest, and the time-series store (SQLite, or InfluxDB when a URL is given). Closing
 * and starting it again on the same dataDir and port plays a gateway outage.
 */
export interface Stack {
  registry: DeviceRegistry
  store: TimeSeriesStore
  ingest: Ingest
  broker: GatewayBroker
  bus: GatewayBus
  metrics: Metrics
  mqttPort: number
  close(): Promise<void>
}

export async function startStack(opts: {
  dataDir: string
  mqttPort?: number
  influxUrl?: string
  /** Several InfluxDB servers (influx.urls). */
  influxUrls?: string[]
  logLevel?: string
  ingest?: Partial<IngestConfig>
  cmd?: DevicePublishHandler
  influx?: OpenStoreOptions['influx']
}): Promise<Stack> {
  mkdirSync(opts.dataDir, { recursive: true })
  const logger = createLogger(opts.logLevel ?? 'silent')
  const metrics = new Metrics({ defaults: false })
  const bus = new GatewayBus()
  const registry = openRegistry(opts.dataDir)
  const store = await openTimeSeriesStore({
    influxUrl: opts.influxUrl,
    influxUrls: opts.influxUrls,
    dataDir: opts.dataDir,
    logger,
    metrics,
    influx: opts.influx,
  })
  const stations = loadStations(new URL('../../config/stations.yaml', import.meta.url).pathname)
  const ingest = createIngest({ registry, store, bus, logger, metrics, stations, config: opts.ingest ?? {} })
  const broker = await createBroker({
    registry,
    metrics,
    logger,
    bus,
    config: { host: '127.0.0.1', port: opts.mqttPort ?? 0, wsPort: 0, wsPath: '/mqtt' },
    routes: { telemetry: ingest.telemetry, status: ingest.status, ...(opts.cmd ? { cmd: opts.cmd } : {}) },
  })
  const ports = await broker.listen()
  return {
    registry,
    store,
    ingest,
    broker,
    bus,
    metrics,
    mqttPort: ports.mqtt,
    async close() {
      await broker.close()
      await store.close()
      await registry.close()
    },
  }
}
