import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { InfluxTimeSeriesStore } from '../../gateway/store/influx/store.ts'
import { SqliteTimeSeriesStore } from '../../gateway/store/sqlite/store.ts'
import type { Point, TimeSeriesStore } from '../../gateway/store/types.ts'
import { requireInfluxd, startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir } from '../support/services.ts'

// The report summaries (summarize, levelDurations of gateway/store/types.ts) answer the same on
// both stores: sums and counts per group and bucket, selectors with the time of the point chosen
// (the earliest on a tie), and the hold rule for time at level.

const H = 3_600_000
const MIN = 60_000
const T0 = Math.floor(Date.now() / H) * H - 12 * H

const wl = (station: string, device: string, ts: number, v: number): Point => ({
  measurement: 'readings',
  tags: { device, kind: 'water_level', station, district: 'Huế' },
  fields: { water_level: v },
  ts,
})
const rain = (ts: number, mm: number): Point => ({
  measurement: 'readings',
  tags: { device: 'rg-1', kind: 'rain_gauge', station: 'st-rain' },
  fields: { rainfall: mm, interval_s: 600 },
  ts,
})
const det = (zone: string, ts: number, car: number, congestion: number): Point => ({
  measurement: 'detections',
  tags: { camera: 'cam-1', zone, station: 'st-cam' },
  fields: { car, congestion },
  ts,
})

const POINTS: Point[] = [
  // st-a: 1.0 at T0, 2.0 at +10m, 2.0 again at +20m (tie: the earliest is the max's time), 0.5 at +30m, then silence
  wl('st-a', 'wl-a', T0, 1.0),
  wl('st-a', 'wl-a', T0 + 10 * MIN, 2.0),
  wl('st-a', 'wl-a', T0 + 20 * MIN, 2.0),
  wl('st-a', 'wl-a', T0 + 30 * MIN, 0.5),
  wl('st-a', 'wl-a', T0 + 3 * H, 1.5),
  wl('st-b', 'wl-b', T0 + 5 * MIN, 3.0),
  // rain over two hours
  rain(T0, 1.5),
  rain(T0 + 10 * MIN, 2.25),
  rain(T0 + H + 10 * MIN, 4),
  rain(T0 + H + 20 * MIN, 0.25),
  // one camera, two zones per frame
  det('z1', T0, 3, 1),
  det('z2', T0, 5, 2),
  det('z1', T0 + MIN, 1, 0),
  det('z2', T0 + MIN, 0, 0),
  det('z1', T0 + 2 * MIN, 7, 3),
  det('z2', T0 + 2 * MIN, 2, 1),
]

function suite(name: string, open: () => Promise<{ store: TimeSeriesStore; cleanup: () => Promise<void> }>): void {
  describe(`store summaries: ${name}`, () => {
    let store: TimeSeriesStore
    let cleanup: () => Promise<void>
    beforeAll(async () => {
      ;({ store, cleanup } = await open())
      await store.write(POINTS)
    }, 60_000)
    afterAll(async () => cleanup?.(), 60_000)
    const range = { from: T0 - H, to: T0 + 6 * H }

    it('max, min, first and last per group, with the time of the point (the earliest on a tie)', async () => {
      const q = { measurement: 'readings', field: 'water_level', groupBy: ['station'], ...range }
      const max = await store.summarize({ ...q, fn: 'max' })
      expect(max).toEqual([
        { tags: { station: 'st-b' }, ts: T0 + 5 * MIN, value: 3 },
        { tags: { station: 'st-a' }, ts: T0 + 10 * MIN, value: 2 },
      ])
      expect(await store.summarize({ ...q, fn: 'min', where: { station: 'st-a' } })).toEqual([
        { tags: { station: 'st-a' }, ts: T0 + 30 * MIN, value: 0.5 },
      ])
      expect(await store.summarize({ ...q, fn: 'last', where: { station: 'st-a' } })).toEqual([
        { tags: { station: 'st-a' }, ts: T0 + 3 * H, value: 1.5 },
      ])
      expect(await store.summarize({ ...q, fn: 'first', where: { station: 'st-a' } })).toEqual([
        { tags: { station: 'st-a' }, ts: T0, value: 1 },
      ])
      expect(await store.summarize({ ...q, fn: 'count', where: { station: 'st-a' } })).toEqual([
        { tags: { station: 'st-a' }, ts: range.from, value: 5 },
      ])
      expect(await store.summarize({ ...q, fn: 'max', where: { station: 'nowhere' } })).toEqual([])
    })

    it('sums per hour bucket, and over the whole range', async () => {
      const q = { measurement: 'readings', field: 'rainfall', groupBy: ['station'], ...range, fn: 'sum' as const }
      expect(await store.summarize({ ...q, every: H })).toEqual([
        { tags: { station: 'st-rain' }, ts: T0, value: 3.75 },
        { tags: { station: 'st-rain' }, ts: T0 + H, value: 4.25 },
      ])
      expect(await store.summarize(q)).toEqual([{ tags: { station: 'st-rain' }, ts: range.from, value: 8 }])
      const cars = await store.summarize({ measurement: 'detections', field: 'car', fn: 'sum', groupBy: ['camera'], ...range })
      expect(cars).toEqual([{ tags: { camera: 'cam-1' }, ts: range.from, value: 18 }])
    })

    it('time at level: a point holds until the next, capped; equal times count once with their highest value', async () => {
      const d = await store.levelDurations({
        measurement: 'readings',
        field: 'water_level',
        groupBy: ['station'],
        where: { station: 'st-a' },
        thresholds: [1, 2],
        holdMaxMs: 30 * MIN,
        ...range,
      })
      // 1.0 (level 1) 10m; 2.0 (level 2) 10m + 10m; 0.5 (level 0) capped 30m; 1.5 (level 1) to the end capped 30m
      expect(d).toEqual([
        { tags: { station: 'st-a' }, points: 5, durations: [30 * MIN, 40 * MIN, 20 * MIN], first: [T0 + 30 * MIN, T0, T0 + 10 * MIN] },
      ])
      const cam = await store.levelDurations({
        measurement: 'detections',
        field: 'congestion',
        groupBy: ['camera'],
        thresholds: [1, 2, 3],
        holdMaxMs: 5 * MIN,
        ...range,
      })
      // frames at T0 (worst 2), +1m (0), +2m (worst 3, held 5m to the cap)
      expect(cam).toEqual([
        { tags: { camera: 'cam-1' }, points: 3, durations: [MIN, 0, MIN, 5 * MIN], first: [T0 + MIN, null, T0, T0 + 2 * MIN] },
      ])
    })
  })
}

suite('SQLite', async () => {
  const dir = tempDir('iocgw-summaries-sqlite-')
  const store = new SqliteTimeSeriesStore({ dataDir: dir.path, logger: createLogger('silent'), metrics: new Metrics({ defaults: false }) })
  return {
    store,
    cleanup: async () => {
      await store.close()
      dir.remove()
    },
  }
})

describe.skipIf(!requireInfluxd())('InfluxDB', () => {
  let influxd: Influxd | undefined
  suite('InfluxDB 1.x', async () => {
    influxd = await startInfluxd()
    const dir = tempDir('iocgw-summaries-influx-')
    const store = await InfluxTimeSeriesStore.open({
      url: influxd.urlFor('ioc_summaries'),
      dataDir: dir.path,
      logger: createLogger('silent'),
      metrics: new Metrics({ defaults: false }),
    })
    return {
      store,
      cleanup: async () => {
        await store.close()
        await influxd?.remove()
        dir.remove()
      },
    }
  })
})
