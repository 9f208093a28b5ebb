import { Writable } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { SqliteTimeSeriesStore } from '../../gateway/store/index.ts'
import { createVision } from '../../gateway/vision/index.ts'
import { tempDir } from '../support/services.ts'
import { camera, publish, sample, visionConfig } from './support.ts'
import { INBOUND_OUTBOUND } from '../support/zones.ts'
import { metricValue } from '../support/metrics.ts'

// Counts land in the real embedded time-series store as the `detections` measurement of
// docs/data-model.md (tags camera, zone, station, district; integer counts; occupancy, congestion).

const dir = tempDir('iocgw-vision-store-')
const metrics = new Metrics({ defaults: false })
const logger = createLogger('warn', new Writable({ write: (_c, _e, cb) => cb() }))
const store = new SqliteTimeSeriesStore({ dataDir: dir.path, logger, metrics })
const vision = createVision({
  store,
  logger,
  metrics,
  dataDir: dir.path,
  config: visionConfig({
    motion: { enabled: false }, // the replayed frame below must be analysed again, not gated
    cameras: {
      'cam-store-01': {
        zones: INBOUND_OUTBOUND,
      },
    },
  }),
})
afterAll(async () => {
  await vision.close()
  await store.close()
  dir.remove()
})

const counter = (outcome: string) => metricValue(metrics, 'vision_frames_total', { outcome })

describe('detections in the time-series store', () => {
  it('writes one point per zone with the data-model tags and fields, idempotently', async () => {
    await vision.whenReady()
    const cam = camera('cam-store-01', { district: null })
    for (let i = 0; i < 2; i++) {
      // The same capture time twice (a replay): stored once per zone.
      await vision.frames(publish(cam, sample('coco_000000001532.jpg'), 'frames/1700000000000'))
      await vision.pipeline.settled()
    }
    expect(await counter('analysed')).toBe(2)
    const points = await store.queryPoints({ measurement: 'detections', from: 1699999999000, to: 1700000001000 })
    expect(points).toHaveLength(2)
    const byZone = Object.fromEntries(points.map((p) => [p.tags.zone, p]))
    expect(byZone.inbound!.tags).toEqual({ camera: 'cam-store-01', zone: 'inbound', station: 'kim-long' }) // no district tag
    const total = (f: string) => Number(byZone.inbound!.fields[f] ?? 0) + Number(byZone.outbound!.fields[f] ?? 0)
    expect([total('car'), total('truck'), total('bus')]).toEqual([4, 1, 0])
    for (const p of points) {
      expect(p.ts).toBe(1700000000000)
      expect(Object.keys(p.fields).sort()).toEqual(['bicycle', 'bus', 'car', 'congestion', 'motorcycle', 'occupancy', 'truck'])
    }
  })
})
