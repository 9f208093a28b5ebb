import { afterAll, beforeAll } from 'vitest'
import { Writable } from 'node:stream'
import Value from 'typebox/value'
import type { DevicePublish } from '../../gateway/broker/types.ts'
import { GatewayBus, type DetectionEvent } from '../../gateway/bus/events.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import type { Device } from '../../gateway/registry/types.ts'
import { VisionSection, type VisionConfig } from '../../gateway/vision/config.ts'
import { createVision } from '../../gateway/vision/index.ts'
import { VisionPool } from '../../gateway/vision/pool.ts'
import type { DetectionPoint } from '../../gateway/vision/pipeline.ts'
import { metricValue } from '../support/metrics.ts'

export { sample, samplePath } from '../support/samples.ts'

export function visionConfig(partial: Record<string, unknown> = {}): VisionConfig {
  const cfg = Value.Default(VisionSection, structuredClone(partial)) as VisionConfig
  if (!Value.Check(VisionSection, cfg)) throw new Error(`bad vision config: ${JSON.stringify([...Value.Errors(VisionSection, cfg)][0])}`)
  return cfg
}

export function camera(id: string, extra: Partial<Device> = {}): Device {
  return {
    id,
    kind: 'camera',
    name: `Camera ${id}`,
    station: 'kim-long',
    district: 'Huế',
    location: null,
    tags: [],
    state: 'active',
    created_at: new Date().toISOString(),
    updated_at: new Date().toISOString(),
    ...extra,
  }
}

export function publish(device: Device, payload: Buffer, subtopic = 'frames'): DevicePublish {
  return { device, topic: `devices/${device.id}/${subtopic}`, subtopic, payload, qos: 1, retain: false, receivedAt: Date.now() }
}

/** makeVision for the calling suite: ready before its tests, closed after them. */
export function useVision(config: VisionConfig): ReturnType<typeof makeVision> {
  const v = makeVision(config)
  beforeAll(async () => {
    await v.vision.whenReady()
  })
  afterAll(async () => {
    await v.vision.close()
  })
  return v
}

/** createVision with an in-memory sink and a bus recorder. */
export function makeVision(config: VisionConfig) {
  const points: DetectionPoint[] = []
  const events: DetectionEvent[] = []
  const bus = new GatewayBus()
  bus.on('detection', (e) => events.push(e))
  const metrics = new Metrics({ defaults: false })
  const logs: string[] = []
  const logger = createLogger('info', new Writable({ write: (c, _e, cb) => (logs.push(String(c)), cb()) }))
  const vision = createVision({
    sink: async (p) => {
      points.push(...p)
    },
    bus,
    logger,
    metrics,
    config,
    dataDir: ':memory:',
  })
  const counter = (name: string, labels: Record<string, string>) => metricValue(metrics, name, labels)
  return { vision, points, events, metrics, logs, counter }
}

/**
 * One worker of the real models (yolox_nano on 2 threads, score 0.3, NMS IoU 0.45 and IoS `nmsIos`;
 * the flood segmenter too when `segmenter`) for the calling suite: ready before its tests, closed
 * after them.
 */
export function useVisionPool(nmsIos: number, segmenter: boolean): Pick<VisionPool, 'analyse'> {
  let pool: VisionPool | undefined
  beforeAll(async () => {
    pool = new VisionPool({
      workers: 1,
      threadsPerWorker: 2,
      detector: { type: 'yolox-onnx', model: 'yolox_nano', scoreThreshold: 0.3, nmsIou: 0.45, nmsIos },
      segmenter: segmenter ? { type: 'deeplab-onnx', model: 'deeplabv3_mnv2_ade20k_uint8' } : null,
    })
    await pool.ready()
  })
  afterAll(async () => {
    await pool?.close()
  })
  return { analyse: (request) => pool!.analyse(request) }
}
