import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { InfluxStoreOptions } from './influx/store.ts'
import { SqliteTimeSeriesStore, type SqliteStoreOptions } from './sqlite/store.ts'
import type { TimeSeriesStore } from './types.ts'
import { withDerivedView } from './derived-view.ts'

export * from './types.ts'
export { SqliteTimeSeriesStore } from './sqlite/store.ts'

export interface OpenStoreOptions {
  /** IOC_INFLUX_URL (http://host:8086/<database>); when set, InfluxDB, else SQLite in dataDir. */
  influxUrl?: string | undefined
  /** Several InfluxDB servers instead of `influxUrl` (influx.urls): every point to each, reads from one. */
  influxUrls?: readonly string[] | undefined
  dataDir: string
  logger: Logger
  metrics: Metrics
  /** Tuning for the InfluxDB store (batching, backoff, spool limit). */
  influx?: Partial<Omit<InfluxStoreOptions, 'url' | 'urls' | 'dataDir' | 'logger' | 'metrics'>> | undefined
  /** Tuning for the SQLite store. */
  sqlite?: Partial<Omit<SqliteStoreOptions, 'dataDir' | 'logger' | 'metrics'>> | undefined
}

/**
 * The gateway's time-series store: InfluxDB when a URL is given (spooling to
 * `<dataDir>/influx-spool` while it is unreachable, journaling the requests it is slow to answer
 * in `<dataDir>/influx-spill`; with several URLs, one folder per server in each), else SQLite at
 * `<dataDir>/timeseries.db`.
 */
export async function openTimeSeriesStore(opts: OpenStoreOptions): Promise<TimeSeriesStore> {
  const logger = opts.logger.child({ component: 'store' })
  if (opts.influxUrl || opts.influxUrls) {
    // Imported here: the InfluxDB client is not loaded by a gateway storing in SQLite (docs/operations.md, Memory).
    const { InfluxTimeSeriesStore } = await import('./influx/store.ts')
    const store = await InfluxTimeSeriesStore.open({
      ...opts.influx,
      url: opts.influxUrl || undefined,
      urls: opts.influxUrls,
      dataDir: opts.dataDir,
      logger,
      metrics: opts.metrics,
    })
    logger.info({ database: store.database, backend: 'influx' }, 'time-series store: InfluxDB')
    return withDerivedView(store)
  }
  const store = new SqliteTimeSeriesStore({ ...opts.sqlite, dataDir: opts.dataDir, logger, metrics: opts.metrics })
  logger.info({ backend: 'sqlite' }, 'time-series store: SQLite')
  return withDerivedView(store)
}
