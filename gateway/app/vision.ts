import { join } from 'node:path'
import type { GatewayBus } from '../bus/events.ts'
import type { Cluster } from '../cluster/index.ts'
import type { GatewayConfig } from '../config/schema.ts'
import type { Ingest } from '../ingest/ingest.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { DeviceRegistry } from '../registry/types.ts'
import type { TimeSeriesStore } from '../store/types.ts'
import { frameRefusalMessage } from '../vision/frame-refusals.ts'
import { activeCameraIds, createVision, loadCameraConfigs, storedCameraConfigs, type Vision } from '../vision/index.ts'
import { createVisionOff, visionOffReason, type VisionOff } from '../vision/off.ts'
import { openPostgresDetectionLog } from '../vision/postgres/detection-log.ts'

/**
 * Camera analysis as configured: on, off because the model files are missing (a fresh clone: the
 * gateway runs and says how to get them), or not at all (`vision.enabled: false`).
 */
export async function startVision(parts: {
  config: GatewayConfig
  registry: DeviceRegistry
  store: TimeSeriesStore
  bus: GatewayBus
  logger: Logger
  metrics: Metrics
  ingest: Ingest
  cluster: Cluster | undefined
}): Promise<{ vision?: Vision; visionOff?: VisionOff }> {
  const { config, registry, logger, cluster } = parts
  if (!config.vision.enabled) return {}
  const off = await visionOffReason(config.vision, config.models.dir)
  if (off) return { visionOff: createVisionOff({ logger, metrics: parts.metrics, reason: off.summary, details: off.details }) }
  // Camera configuration lives in the registry; gateway.yaml seeds cameras it has none for.
  const cameras = await loadCameraConfigs(registry, config.vision.cameras, logger)
  const vision = createVision({
    store: parts.store,
    bus: parts.bus,
    logger,
    metrics: parts.metrics,
    config: config.vision,
    modelsDir: config.models.dir,
    dataDir: config.server.dataDir,
    cameras,
    // docs/operations.md "Cameras across nodes": one detection log for every node, whichever analysed the frame.
    // The first node to open it copies its own vision.sqlite in (gateway/vision/postgres/seed.ts).
    log: cluster
      ? await openPostgresDetectionLog(cluster.pool, {
          nodeId: cluster.nodeId,
          seed: { file: join(config.server.dataDir, 'vision.sqlite'), retentionMs: config.vision.retentionDays * 86_400_000, logger },
        })
      : undefined,
    // Refused frames are kept with the device's refused telemetry (GET /devices/:id/rejects).
    onFrameRefused: (msg, reason) => parts.ingest.recordRefusal(msg, reason, frameRefusalMessage(reason, msg.payload.length)),
    deviceKind: async (id) => (await registry.getDevice(id))?.kind,
    // docs/operations.md "Cameras across nodes": needs both the shared leases and Redis to forward frames.
    cluster:
      cluster && config.redis.url
        ? {
            leases: cluster.leases,
            pool: cluster.pool,
            redisUrl: config.redis.url,
            nodeId: cluster.nodeId,
            listCameras: () => activeCameraIds(registry),
            cameraConfigs: () => storedCameraConfigs(registry),
          }
        : undefined,
  })
  if (cluster && !config.redis.url)
    logger.warn('vision: postgres.url without redis.url, so frames cannot be forwarded: each node analyses the cameras connected to it')
  return { vision }
}
