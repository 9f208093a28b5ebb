import { readingsRoutes } from '../../gateway/api/routes/readings.ts'
import { buildApi, withDeps } from '../../gateway/api/server.ts'
import type { ApiApp } from '../../gateway/api/types.ts'
import type { Logger } from '../../gateway/log/logger.ts'
import type { Metrics } from '../../gateway/metrics/registry.ts'
import type { DeviceRegistry } from '../../gateway/registry/types.ts'
import type { TimeSeriesStore } from '../../gateway/store/types.ts'

/**
 * The readings routes alone (docs/api.md "Readings") on `registry`, ready for Fastify's inject
 * (auth hook and schema validation included): they read `routes` (`store` unless given, a store
 * made to fail, say), and readiness shows `store`'s health.
 */
export async function readingsApi(o: {
  registry: DeviceRegistry
  store: TimeSeriesStore
  routes?: TimeSeriesStore
  metrics: Metrics
  logger: Logger
}): Promise<ApiApp> {
  const { registry, store } = o
  const app = await buildApi({
    registry,
    metrics: o.metrics,
    logger: o.logger,
    config: { authFailuresPerMinute: 1_000_000 },
    readiness: async () => ({ store: store.health() }),
    routes: withDeps({ store: o.routes ?? store, registry }, readingsRoutes),
  })
  await app.ready()
  return app
}
