import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { GatewayBus } from '../../gateway/bus/events.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { createVision } from '../../gateway/vision/index.ts'
import { waitFor } from '../support/services.ts'
import { camera, publish, sample, visionConfig } from './support.ts'

// When the vision workers start and what a start that fails leaves behind (docs/vision.md
// "Workers start when needed"); the real gateway process is in idle-start.test.ts.

function setUp(config = visionConfig({ motion: { enabled: false } })) {
  const bus = new GatewayBus()
  const metrics = new Metrics({ defaults: false })
  const logs: string[] = []
  const logger = createLogger('info', new Writable({ write: (c, _e, cb) => (logs.push(String(c)), cb()) }))
  const points: unknown[] = []
  const kinds: Record<string, string> = { 'cam-life-01': 'camera', 'wl-life-01': 'water_level' }
  const vision = createVision({
    sink: async (p) => void points.push(...p),
    bus,
    logger,
    metrics,
    config,
    dataDir: ':memory:',
    deviceKind: (id) => Promise.resolve(kinds[id]),
  })
  const gauge = async (name: string) =>
    (
      (await metrics.registry.getSingleMetric(`iocgw_${name}`)?.get()) as {
        values: Array<{ labels: Record<string, string>; value: number }>
      }
    ).values
  return { bus, vision, metrics, logs, points, gauge }
}

describe('vision workers on demand', () => {
  it('a camera coming online starts them before its first frame; another device does not', async () => {
    const t = setUp()
    try {
      t.bus.emit('device-status', { device: 'wl-life-01', online: true, ts: Date.now() })
      t.bus.emit('device-status', { device: 'cam-life-01', online: false, ts: Date.now() })
      // The device's kind comes from the registry (a promise): give the answers time to arrive.
      await new Promise((r) => setTimeout(r, 200))
      expect(t.vision.state()).toBe('idle')
      expect((await t.gauge('vision_workers'))[0]!.value).toBe(0)
      t.bus.emit('device-status', { device: 'cam-life-01', online: true, ts: Date.now() })
      await waitFor(() => t.vision.state() !== 'idle', 10_000)
      expect(['starting', 'running']).toContain(t.vision.state())
      await waitFor(async () => (await t.gauge('vision_workers'))[0]!.value === 2, 60_000, 100)
      expect(t.vision.state()).toBe('running')
      expect(t.vision.pool.threadCount).toBe(2)
    } finally {
      await t.vision.close()
    }
  })

  it('closes cleanly while the workers are loading their models, again and again', async () => {
    for (let i = 0; i < 3; i++) {
      const t = setUp()
      const started = t.vision.whenReady()
      await t.vision.frames(publish(camera('cam-life-01'), sample('coco_000000001584.jpg')))
      await t.vision.close()
      await started
      expect(t.vision.pool.threadCount).toBe(0)
    }
  })

  it('a model that cannot be loaded: the frame counts as failed, /readyz not ready, the next frame tries again', async () => {
    const t = setUp(visionConfig({ motion: { enabled: false }, detector: { model: 'no_such_model' } }))
    try {
      await t.vision.frames(publish(camera('cam-life-01'), sample('coco_000000001584.jpg')))
      await waitFor(
        async () => (await t.gauge('vision_frames_total')).some((v) => v.labels.outcome === 'failed' && v.value === 1),
        60_000,
        100,
      )
      expect(t.vision.ready()).toBe(false)
      expect(t.vision.state()).toBe('failed')
      expect(t.logs.join('')).toContain('vision: models could not be loaded')
      await t.vision.frames(publish(camera('cam-life-01'), sample('coco_000000001584.jpg')))
      await waitFor(
        async () => (await t.gauge('vision_frames_total')).some((v) => v.labels.outcome === 'failed' && v.value === 2),
        60_000,
        100,
      )
      expect(t.points).toHaveLength(0)
    } finally {
      await t.vision.close()
    }
  })
})
