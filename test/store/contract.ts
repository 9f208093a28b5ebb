import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StoreError, type Point, type TimeSeriesStore } from '../../gateway/store/types.ts'

// One contract for every TimeSeriesStore implementation (run by sqlite.test.ts and influx.test.ts).
// Each test uses its own device ids, so one store serves the whole suite.

export interface StoreUnderTest {
  store: TimeSeriesStore
  /** Closes the store and opens it again on the same data (persistence). */
  reopen(): Promise<TimeSeriesStore>
  cleanup(): Promise<void>
}

// Hour-aligned and recent: InfluxDB drops points older than the raw retention policy (90 days).
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 6 * 3_600_000
const MIN = 60_000

function reading(device: string, ts: number, values: Record<string, number | string>, tags: Record<string, string> = {}): Point {
  return {
    measurement: 'readings',
    tags: { device, kind: 'water_level', station: 'kim-long', district: 'Huế', ...tags },
    fields: values,
    ts,
  }
}

export function storeContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`TimeSeriesStore contract: ${name}`, () => {
    let sut: StoreUnderTest
    let store: TimeSeriesStore

    beforeAll(async () => {
      sut = await open()
      store = sut.store
    }, 60_000)
    afterAll(async () => {
      await sut?.cleanup()
    }, 60_000)

    const all = { from: T0 - 24 * 3_600_000, to: T0 + 24 * 3_600_000, limit: 1000 }

    it('writes and reads raw points of one metric, oldest first, with a limit and newest-first order', async () => {
      await store.write([0, 1, 2, 3, 4].map((i) => reading('raw-1', T0 + i * MIN, { water_level: 1 + i / 10, battery: 12.5, seq: i })))
      await store.write([reading('raw-2', T0, { water_level: 9 })])
      const pts = await store.readings({ device: 'raw-1', metric: 'water_level', ...all })
      expect(pts).toEqual([0, 1, 2, 3, 4].map((i) => ({ ts: T0 + i * MIN, value: 1 + i / 10 })))
      expect(await store.readings({ device: 'raw-1', metric: 'water_level', ...all, limit: 2 })).toHaveLength(2)
      const newest = await store.readings({ device: 'raw-1', metric: 'water_level', ...all, limit: 2, order: 'desc' })
      expect(newest.map((p) => p.ts)).toEqual([T0 + 4 * MIN, T0 + 3 * MIN])
      expect(await store.readings({ device: 'raw-1', metric: 'rainfall', ...all })).toEqual([])
      expect(await store.readings({ device: 'nobody', metric: 'water_level', ...all })).toEqual([])
      const seq = await store.readings({ device: 'raw-1', metric: 'seq', ...all })
      expect(seq.map((p) => p.value)).toEqual([0, 1, 2, 3, 4])
    })

    it('treats from as inclusive and to as exclusive', async () => {
      await store.write([0, 1, 2].map((i) => reading('edge-1', T0 + i * MIN, { water_level: i })))
      const pts = await store.readings({ device: 'edge-1', metric: 'water_level', from: T0 + MIN, to: T0 + 2 * MIN, limit: 10 })
      expect(pts).toEqual([{ ts: T0 + MIN, value: 1 }])
      expect(await store.readings({ device: 'edge-1', metric: 'water_level', from: T0, to: T0, limit: 10 })).toEqual([])
      expect(
        await store.readings({ device: 'edge-1', metric: 'water_level', from: T0 + 2 * MIN, to: T0 + 2 * MIN + 1, limit: 10 }),
      ).toEqual([{ ts: T0 + 2 * MIN, value: 2 }])
    })

    it('aggregates with every: mean, min, max and last per epoch-aligned bucket, empty buckets left out', async () => {
      // Bucket [T0, T0+10m): 1, 3, 2 (last at +7m is 2); bucket [T0+10m, +20m): nothing;
      // bucket [T0+20m, +30m): 10, 4.
      await store.write([
        reading('agg-1', T0 + 1 * MIN, { water_level: 1 }),
        reading('agg-1', T0 + 7 * MIN, { water_level: 2 }),
        reading('agg-1', T0 + 4 * MIN, { water_level: 3 }),
        reading('agg-1', T0 + 21 * MIN, { water_level: 10 }),
        reading('agg-1', T0 + 29 * MIN, { water_level: 4 }),
      ])
      const q = { device: 'agg-1', metric: 'water_level', from: T0, to: T0 + 30 * MIN, every: 10 * MIN }
      expect(await store.aggregate({ ...q, fn: 'mean' })).toEqual([
        { ts: T0, value: 2 },
        { ts: T0 + 20 * MIN, value: 7 },
      ])
      expect(await store.aggregate({ ...q, fn: 'min' })).toEqual([
        { ts: T0, value: 1 },
        { ts: T0 + 20 * MIN, value: 4 },
      ])
      expect(await store.aggregate({ ...q, fn: 'max' })).toEqual([
        { ts: T0, value: 3 },
        { ts: T0 + 20 * MIN, value: 10 },
      ])
      expect(await store.aggregate({ ...q, fn: 'last' })).toEqual([
        { ts: T0, value: 2 },
        { ts: T0 + 20 * MIN, value: 4 },
      ])
      // A range starting mid-bucket still uses epoch-aligned buckets, holding only points in range.
      expect(await store.aggregate({ ...q, from: T0 + 5 * MIN, fn: 'mean' })).toEqual([
        { ts: T0, value: 2 },
        { ts: T0 + 20 * MIN, value: 7 },
      ])
      expect(await store.aggregate({ ...q, fn: 'mean', limit: 1 })).toEqual([{ ts: T0, value: 2 }])
    })

    it('stores a duplicate once (same device, seq and ts), the later write winning', async () => {
      const p = reading('dup-1', T0 + MIN, { water_level: 2.31, seq: 7 })
      await store.write([p])
      await store.write([p, p])
      await store.write([{ ...p, fields: { water_level: 2.32, seq: 7 } }])
      const pts = await store.readings({ device: 'dup-1', metric: 'water_level', ...all })
      expect(pts).toEqual([{ ts: T0 + MIN, value: 2.32 }])
      const raw = await store.queryPoints({ measurement: 'readings', where: { device: 'dup-1' }, from: all.from, to: all.to })
      expect(raw).toHaveLength(1)
    })

    it('accepts out-of-order and late points and answers them in time order', async () => {
      await store.write([reading('ooo-1', T0 + 3 * MIN, { water_level: 3 }), reading('ooo-1', T0 + 1 * MIN, { water_level: 1 })])
      await store.write([reading('ooo-1', T0 + 2 * MIN, { water_level: 2 })])
      // Late: an edge agent replaying a reading from 5 hours ago after the newer ones arrived.
      await store.write([reading('ooo-1', T0 - 5 * 3_600_000, { water_level: 0.5 })])
      const pts = await store.readings({ device: 'ooo-1', metric: 'water_level', ...all })
      expect(pts.map((p) => p.value)).toEqual([0.5, 1, 2, 3])
      // The latest value is the newest by event time, not the last written.
      const [latest] = await store.latest({ device: 'ooo-1' })
      expect(latest!.values.water_level).toBe(3)
      expect(latest!.ts).toBe(T0 + 3 * MIN)
    })

    it('answers the latest values per device, filtered by kind and station', async () => {
      await store.write([
        reading('lat-a', T0 + MIN, { water_level: 1.5, battery: 12.1, seq: 1 }, { station: 'lat-st-1' }),
        reading('lat-a', T0 + 2 * MIN, { water_level: 1.6, seq: 2 }, { station: 'lat-st-1' }),
        reading('lat-b', T0 + MIN, { water_level: 2.5 }, { station: 'lat-st-2' }),
        {
          measurement: 'readings',
          tags: { device: 'lat-c', kind: 'air_quality', station: 'lat-st-1' },
          fields: { pm25: 35.5, aqi: 101, aqi_dominant: 'pm25' },
          ts: T0,
        },
      ])
      const st1 = await store.latest({ station: 'lat-st-1' })
      expect(st1.map((i) => i.device)).toEqual(['lat-a', 'lat-c'])
      // Each field's own latest: battery from the first reading, water_level from the second.
      expect(st1[0]).toEqual({
        device: 'lat-a',
        tags: { device: 'lat-a', kind: 'water_level', station: 'lat-st-1', district: 'Huế' },
        ts: T0 + 2 * MIN,
        values: { water_level: 1.6, battery: 12.1 },
      })
      expect(st1[1]!.values).toEqual({ pm25: 35.5, aqi: 101, aqi_dominant: 'pm25' })
      const aq = await store.latest({ kind: 'air_quality', station: 'lat-st-1' })
      expect(aq.map((i) => i.device)).toEqual(['lat-c'])
      expect((await store.latest({ station: 'lat-st-2', kind: 'water_level' })).map((i) => i.device)).toEqual(['lat-b'])
      expect(await store.latest({ station: 'no-such-station' })).toEqual([])
    })

    it('omits unknown tags instead of storing empty strings', async () => {
      await store.write([
        {
          measurement: 'readings',
          tags: { device: 'notag-1', kind: 'rain_gauge', station: '', district: '' },
          fields: { rainfall: 1.2, interval_s: 300 },
          ts: T0,
        },
      ])
      const [p] = await store.queryPoints({ measurement: 'readings', where: { device: 'notag-1' }, from: all.from, to: all.to })
      expect(p).toEqual({ ts: T0, tags: { device: 'notag-1', kind: 'rain_gauge' }, fields: { rainfall: 1.2, interval_s: 300 } })
      const [l] = await store.latest({ device: 'notag-1' })
      expect(l!.tags).toEqual({ device: 'notag-1', kind: 'rain_gauge' })
    })

    it('keeps string, boolean, integer and small float fields with their types', async () => {
      await store.write([
        { measurement: 'readings', tags: { device: 'str-1', kind: 'air_quality' }, fields: { aqi: 151, aqi_dominant: 'pm10' }, ts: T0 },
        {
          measurement: 'readings',
          tags: { device: 'str-1', kind: 'air_quality' },
          fields: { aqi: 99, aqi_dominant: 'o3 "ozone", \\ đây\nline' },
          ts: T0 + MIN,
        },
        {
          measurement: 'alerts',
          tags: { kind: 'water_level', rule: 'r1', severity: 'critical', state: 'open', station: 'str-st' },
          fields: { id: 'a-1', title: 'Báo động III', level: 3, value: 3.7, threshold: 3.5, late: true },
          ts: T0,
        },
        { measurement: 'readings', tags: { device: 'str-2', kind: 'air_quality' }, fields: { co: 1e-7 }, ts: T0 },
      ])
      const s = await store.readings({ device: 'str-1', metric: 'aqi_dominant', ...all })
      expect(s).toEqual([
        { ts: T0, value: 'pm10' },
        { ts: T0 + MIN, value: 'o3 "ozone", \\ đây line' },
      ])
      expect(
        await store.aggregate({ device: 'str-1', metric: 'aqi_dominant', from: T0, to: T0 + 10 * MIN, every: 10 * MIN, fn: 'last' }),
      ).toEqual([{ ts: T0, value: 'o3 "ozone", \\ đây line' }])
      const [a] = await store.queryPoints({ measurement: 'alerts', where: { station: 'str-st' }, from: all.from, to: all.to })
      expect(a!.fields).toEqual({ id: 'a-1', title: 'Báo động III', level: 3, value: 3.7, threshold: 3.5, late: true })
      expect(a!.tags).toEqual({ kind: 'water_level', rule: 'r1', severity: 'critical', state: 'open', station: 'str-st' })
      expect(await store.readings({ device: 'str-2', metric: 'co', ...all })).toEqual([{ ts: T0, value: 1e-7 }])
    })

    it('answers generic queries: raw points with tags, and aggregates grouped by tag', async () => {
      const det = (camera: string, zone: string, ts: number, car: number, congestion: number): Point => ({
        measurement: 'detections',
        tags: { camera, zone, station: 'gen-st' },
        fields: { car, motorcycle: car * 3, congestion },
        ts,
      })
      await store.write([
        det('gen-cam-1', 'north', T0, 4, 1),
        det('gen-cam-1', 'south', T0, 2, 0),
        det('gen-cam-1', 'north', T0 + MIN, 6, 2),
        det('gen-cam-2', 'north', T0 + 2 * MIN, 10, 3),
        det('gen-cam-1', 'north', T0 + 11 * MIN, 8, 2),
      ])
      const raw = await store.queryPoints({
        measurement: 'detections',
        where: { camera: 'gen-cam-1', zone: 'north' },
        fields: ['car'],
        from: T0,
        to: T0 + 60 * MIN,
      })
      expect(raw).toEqual([
        { ts: T0, tags: { camera: 'gen-cam-1', zone: 'north', station: 'gen-st' }, fields: { car: 4 } },
        { ts: T0 + MIN, tags: { camera: 'gen-cam-1', zone: 'north', station: 'gen-st' }, fields: { car: 6 } },
        { ts: T0 + 11 * MIN, tags: { camera: 'gen-cam-1', zone: 'north', station: 'gen-st' }, fields: { car: 8 } },
      ])
      const newest = await store.queryPoints({
        measurement: 'detections',
        where: { station: 'gen-st' },
        from: T0,
        to: T0 + 60 * MIN,
        order: 'desc',
        limit: 1,
      })
      expect(newest).toEqual([
        {
          ts: T0 + 11 * MIN,
          tags: { camera: 'gen-cam-1', zone: 'north', station: 'gen-st' },
          fields: { car: 8, motorcycle: 24, congestion: 2 },
        },
      ])
      const agg = await store.queryPoints({
        measurement: 'detections',
        where: { station: 'gen-st' },
        fields: ['car', 'congestion'],
        from: T0,
        to: T0 + 20 * MIN,
        every: 10 * MIN,
        fn: 'max',
        groupBy: ['camera'],
      })
      expect(agg).toEqual([
        { ts: T0, tags: { camera: 'gen-cam-1' }, fields: { car: 6, congestion: 2 } },
        { ts: T0, tags: { camera: 'gen-cam-2' }, fields: { car: 10, congestion: 3 } },
        { ts: T0 + 10 * MIN, tags: { camera: 'gen-cam-1' }, fields: { car: 8, congestion: 2 } },
      ])
      const mean = await store.queryPoints({
        measurement: 'detections',
        where: { camera: 'gen-cam-1' },
        fields: ['car'],
        from: T0,
        to: T0 + 10 * MIN,
        every: 10 * MIN,
        fn: 'mean',
      })
      expect(mean).toEqual([{ ts: T0, tags: {}, fields: { car: 4 } }])
    })

    it('refuses invalid points whole, storing none of the write', async () => {
      const good = reading('bad-1', T0, { water_level: 1 })
      await expect(store.write([good, reading('bad-1', T0 + MIN, { water_level: Number.NaN })])).rejects.toBeInstanceOf(StoreError)
      await expect(store.write([{ ...good, fields: {} }])).rejects.toThrow(/no fields/)
      await expect(store.write([{ ...good, ts: 1.5 }])).rejects.toThrow(/ts/)
      await expect(store.write([{ ...good, tags: { device: 'a\nb' } }])).rejects.toThrow(/line break/)
      expect(await store.readings({ device: 'bad-1', metric: 'water_level', ...all })).toEqual([])
    })

    it('refuses a write whose field type differs from the stored one, naming the field', async () => {
      await store.write([reading('type-1', T0, { water_level: 1.5 })])
      await expect(
        store.write([reading('type-1', T0 + MIN, { battery: 12 }), reading('type-2', T0 + MIN, { water_level: 'high' })]),
      ).rejects.toThrow(/field water_level of readings is stored as float, this point has a string/)
      await expect(
        store.write([reading('type-1', T0 + MIN, { tag_like: 'x' }), reading('type-1', T0 + 2 * MIN, { tag_like: 2 })]),
      ).rejects.toThrow(/tag_like/)
      expect(await store.readings({ device: 'type-1', metric: 'battery', ...all })).toEqual([])
      store = await sut.reopen()
      // Still known after a restart.
      await expect(store.write([reading('type-3', T0, { water_level: true as unknown as number })])).rejects.toThrow(/stored as float/)
      await expect(
        store.write([{ measurement: 'readings', tags: { device: 'type-3' }, fields: { seq: 2.6 }, ts: T0 }]),
      ).resolves.toBeUndefined()
      expect(await store.readings({ device: 'type-3', metric: 'seq', ...all })).toEqual([{ ts: T0, value: 3 }])
    })

    it('keeps everything across close and reopen', async () => {
      await store.write([reading('keep-1', T0, { water_level: 4.2 })])
      store = await sut.reopen()
      expect(await store.readings({ device: 'keep-1', metric: 'water_level', ...all })).toEqual([{ ts: T0, value: 4.2 }])
      expect(store.health()).toMatchObject({ ok: true, degraded: false })
    })
  })
}
