import { join } from 'node:path'
import type { DevicePublish, DevicePublishHandler } from '../broker/types.ts'
import type { DeviceStatusEvent, GatewayBus } from '../bus/events.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import { loadManifest } from '../../models/manifest.ts'
import type { CameraVisionConfig, VisionConfig } from './config.ts'
import { openDetectionLog, type DetectionLog, type DetectionPage } from './detection-log.ts'
import { CameraLeases, type CameraLeaseManager, type StoredCameraConfig } from './camera-leases.ts'
import type { FrameReject } from './frame-check.ts'
import { createFramesHandler } from './frames-handler.ts'
import { VisionPipeline, type DetectionSink } from './pipeline.ts'
import { VisionPool } from './pool.ts'
import { SnapshotCache } from './snapshot.ts'
import { SnapshotRelay } from './snapshot-relay.ts'
import { storeSink } from './store-sink.ts'
import type { TimeSeriesStore } from '../store/types.ts'
import type pg from 'pg'

export { VisionSection, type VisionConfig } from './config.ts'
export type { DetectionPoint, DetectionSink } from './pipeline.ts'
export { storeSink } from './store-sink.ts'
export { loadCameraConfigs } from './camera-config.ts'
export { activeCameraIds } from './camera-leases.ts'
export { storedCameraConfigs } from './camera-config.ts'

export interface VisionDeps {
  /** The time-series store (measurement `detections`); or give `sink`. */
  store?: Pick<TimeSeriesStore, 'write'> | undefined
  /** Durable writer of `detections` points, instead of `store` (tests, benchmarks). */
  sink?: DetectionSink | undefined
  bus?: GatewayBus | undefined
  logger: Logger
  metrics: Metrics
  config: VisionConfig
  /** IOC_MODELS_DIR / models.dir; the resolver falls back to models/ and ../shared/models. */
  modelsDir?: string | undefined
  /** Where the detection records (with boxes) are kept: `<dataDir>/vision.sqlite`; ':memory:' for tests. */
  dataDir: string
  /** Replaces the embedded SQLite detection log: the one in PostgreSQL, shared by several nodes (closed by its owner). */
  log?: DetectionLog | undefined
  /** Told of every refused frame, to keep it with the device's refused messages. */
  onFrameRefused?: ((msg: DevicePublish, reason: FrameReject) => void) | undefined
  /** Per-camera configuration from the registry (loadCameraConfigs); `config.cameras` when not given. */
  cameras?: Record<string, CameraVisionConfig> | undefined
  /** A device's kind, so that a camera coming online (its `status`) starts the workers before its first frame. */
  deviceKind?: ((id: string) => Promise<string | undefined>) | undefined
  /** Cluster mode with Redis: each camera is analysed by the node holding its lease (camera-leases.ts). */
  cluster?: VisionClusterDeps | undefined
}

export interface VisionClusterDeps {
  leases: CameraLeaseManager
  pool: pg.Pool
  redisUrl: string
  nodeId: string
  /** Ids of the registered, active cameras. */
  listCameras: () => Promise<string[]>
  /** The stored camera configurations (a change through another node is applied here too). */
  cameraConfigs?: (() => Promise<StoredCameraConfig[]>) | undefined
}

/** Where the workers are: not started (or stopped when idle), loading their models, running, or failed to load. */
export type VisionState = 'idle' | 'starting' | 'running' | 'failed'

export interface Vision {
  /** Broker route for subtopic `frames`. */
  frames: DevicePublishHandler
  /** False when the workers' last start failed (a model that cannot be loaded); true otherwise, also while idle. */
  ready(): boolean
  state(): VisionState
  /** Starts the workers if they are not running; resolves when the models are loaded, rejects with the reason when they cannot be. */
  whenReady(): Promise<void>
  /** JPEG of the latest analysed frame with detections drawn (in cluster mode: from the node analysing the camera), or null when none yet. */
  snapshot(camera: string): Promise<Buffer | null>
  detections(camera: string, from: number, to: number, limit: number, cursor?: number): Promise<DetectionPage>
  /** Applies a camera's new configuration to the running pipeline (from its next frame). */
  setCameraConfig(camera: string, config: CameraVisionConfig): void
  pipeline: VisionPipeline
  pool: VisionPool
  close(): Promise<void>
}

export function createVision(d: VisionDeps): Vision {
  const cfg = d.config
  const sink = d.sink ?? (d.store ? storeSink(d.store) : null)
  if (!sink) throw new Error('createVision: give store (the time-series store) or sink')
  let closing = false
  const pool = new VisionPool({
    workers: cfg.workers,
    threadsPerWorker: cfg.threadsPerWorker,
    detector: cfg.detector,
    segmenter: cfg.flood.segmenter,
    modelsDir: d.modelsDir,
    maxPixels: cfg.maxFramePixels,
    idleStopMs: cfg.idleStopS * 1000,
    onState(e) {
      if (e.state === 'running')
        d.logger.info(
          { workers: pool.workers, threadsPerWorker: pool.threadsPerWorker, model: cfg.detector.model, ms: e.ms },
          'vision: models loaded',
        )
      // Shutting down while the workers load is not a model failure.
      else if (e.state === 'failed') {
        if (!closing) d.logger.error({ err: e.err }, 'vision: models could not be loaded')
      } else d.logger.info({ idleMs: e.idleMs }, 'vision: no frames for vision.idleStopS, workers stopped')
    },
  })
  // Read at each scrape: whether the detector is loaded (0 while idle), docs/operations.md.
  d.metrics.gaugeReading(
    'vision_workers',
    'Vision worker threads with their models loaded (0 until the first frame and after vision.idleStopS without one)',
    () => pool.loadedWorkers,
  )
  const log = d.log ?? openDetectionLog(d.dataDir === ':memory:' ? ':memory:' : join(d.dataDir, 'vision.sqlite'))
  const seg = loadManifest(cfg.flood.segmenter.model)
  // Created before the pipeline it feeds; it hands frames over only once a lease is acquired, later.
  const cameraLeases = d.cluster
    ? new CameraLeases({
        ...d.cluster,
        submit: (f) => pipeline.submit(f),
        discard: (camera) => pipeline.discard(camera),
        setCameraConfig: (camera, config) => pipeline.setCameraConfig(camera, config),
        logger: d.logger,
        metrics: d.metrics,
      })
    : undefined
  const pipeline = new VisionPipeline({
    pool,
    config: cfg,
    sink,
    log,
    bus: d.bus,
    logger: d.logger,
    metrics: d.metrics,
    waterClasses: Object.values(seg.waterClasses ?? {}),
    cameras: d.cameras,
    leases: cameraLeases,
  })
  const snapshots = new SnapshotCache(d.metrics, {
    scoreThreshold: cfg.detector.scoreThreshold,
    countThreshold: cfg.detector.countThreshold,
    maxPixels: cfg.maxFramePixels,
  })
  const localSnapshot = async (camera: string): Promise<Buffer | null> => {
    const s = pipeline.snapshot(camera)
    return s ? snapshots.get(s) : null
  }
  // Cluster mode: the snapshot is in the memory of the node analysing the camera; others ask it.
  const relay =
    d.cluster && cameraLeases
      ? new SnapshotRelay({
          redisUrl: d.cluster.redisUrl,
          nodeId: d.cluster.nodeId,
          holds: (camera) => cameraLeases.holds(camera),
          local: localSnapshot,
          logger: d.logger,
          metrics: d.metrics,
        })
      : undefined
  let starting = false
  const start = (): Promise<void> => {
    starting = true
    const p = pool.ready().finally(() => {
      starting = false
    })
    p.catch(() => undefined)
    return p
  }
  // A camera that comes online is about to send frames: its first one need not wait for the models.
  const onStatus = (s: DeviceStatusEvent) => {
    if (!s.online || closing || pool.loadedWorkers > 0 || !d.deviceKind) return
    // Cluster mode: the camera's frames are analysed by the holder of its lease, wherever it connected.
    if (cameraLeases && !cameraLeases.holds(s.device)) return
    d.deviceKind(s.device).then(
      (kind) => {
        if (kind === 'camera' && !closing && pool.loadedWorkers === 0) void start()
      },
      // The registry unreachable: the camera's first frame starts the workers instead.
      () => undefined,
    )
  }
  d.bus?.on('device-status', onStatus)
  const prune = setInterval(() => {
    log.prune(Date.now() - cfg.retentionDays * 86_400_000).catch((err: unknown) => {
      d.logger.warn({ err }, 'vision: pruning detection records failed')
    })
  }, 3_600_000)
  prune.unref()

  return {
    frames: createFramesHandler(
      pipeline,
      cfg.maxFrameBytes,
      d.logger,
      d.onFrameRefused,
      cameraLeases ? (f) => cameraLeases.route(f) : undefined,
    ),
    ready: () => !pool.startFailed,
    state: () => (pool.loadedWorkers > 0 ? 'running' : starting ? 'starting' : pool.startFailed ? 'failed' : 'idle'),
    whenReady: start,
    snapshot: (camera) => (relay ? relay.snapshot(camera) : localSnapshot(camera)),
    detections: (camera, from, to, limit, cursor) => log.list(camera, from, to, limit, cursor),
    setCameraConfig: (camera, config) => pipeline.setCameraConfig(camera, config),
    pipeline,
    pool,
    async close() {
      closing = true
      clearInterval(prune)
      d.bus?.off('device-status', onStatus)
      await relay?.close()
      await cameraLeases?.close()
      await pipeline.close()
      await pool.close()
      if (!d.log) log.close()
    },
  }
}
