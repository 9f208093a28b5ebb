import type { ReadinessCheck } from '../api/server.ts'
import type { GatewayBroker } from '../broker/types.ts'
import type { Cluster } from '../cluster/index.ts'
import { influxTargetChecks } from '../store/health.ts'
import type { TimeSeriesStore } from '../store/types.ts'
import type { Vision } from '../vision/index.ts'
import type { VisionOff } from '../vision/off.ts'

/** GET /readyz's checks (docs/operations.md "Health and readiness"), from the parts this node runs. */
export function gatewayReadiness(parts: {
  broker: GatewayBroker
  store: TimeSeriesStore
  vision: Vision | undefined
  visionOff: VisionOff | undefined
  cluster: Cluster | undefined
}): ReadinessCheck {
  const { broker, store, vision, visionOff, cluster } = parts
  return async () => ({
    broker: { ok: broker.ready() },
    // Cluster mode: a node without Redis routes nothing to the other nodes and keeps no sessions.
    ...(broker.redisUp() === undefined
      ? {}
      : { redis: { ok: broker.redisUp() === true, ...(broker.redisUp() ? {} : { detail: 'Redis unreachable (redis.url)' }) } }),
    store: store.health(),
    ...influxTargetChecks(store.health()),
    // The workers start with the first frame: idle and starting are ready; a failed load is not (until one succeeds).
    ...(vision
      ? {
          model: {
            ok: vision.ready(),
            state: vision.state(),
            ...(vision.ready() ? {} : { detail: 'vision models could not be loaded; see the log' }),
          },
        }
      : {}),
    // Vision off is a supported state, not a fault: ready, and the check says what to run.
    ...(visionOff ? { model: { ok: true, state: 'off', detail: visionOff.reason } } : {}),
    ...(cluster ? await cluster.readiness() : {}),
  })
}
