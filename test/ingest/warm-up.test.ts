// A restart must not change derived values: an ingest that rebuilt its state from the store gives
// the next reading the same VN_AQI and rise rate as one that saw every reading live, and one that
// did not rebuild gives different ones (so the comparison can fail).
import { describe, expect, it } from 'vitest'
import { HOUR_MS, hourStartOf, memoryHourlyMeans } from '../../gateway/ingest/aqi-state.ts'
import { NO_STATIONS } from '../../gateway/domain/stations.ts'
import { warmUp } from '../../gateway/ingest/warm-up.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { SqliteTimeSeriesStore } from '../../gateway/store/sqlite/store.ts'
import type { PointQuery, QueriedPoint } from '../../gateway/store/types.ts'
import { InfluxTimeSeriesStore } from '../../gateway/store/influx/store.ts'
import type { TimeSeriesStore } from '../../gateway/store/types.ts'
import { requireInfluxd, startInfluxd } from '../support/influxd.ts'
import { useCleanups } from '../support/cleanups.ts'
import { tempDir } from '../support/services.ts'
import { device, publish, setup } from './helpers.ts'

const air = device('aq-hue-01', 'air_quality', null)
const gauge = device('kim-long-01', 'water_level', 'kim-long')

const cleanup = useCleanups()

const stores: Array<[string, () => Promise<TimeSeriesStore>]> = [
  [
    'SQLite',
    async () => {
      const dir = tempDir('iocgw-warmup-')
      const store = new SqliteTimeSeriesStore({
        dataDir: dir.path,
        logger: createLogger('silent'),
        metrics: new Metrics({ defaults: false }),
      })
      cleanup(
        () => dir.remove(),
        () => store.close(),
      )
      return store
    },
  ],
]
if (requireInfluxd()) {
  stores.push([
    'InfluxDB',
    async () => {
      const dir = tempDir('iocgw-warmup-')
      const influxd = await startInfluxd()
      const store = await InfluxTimeSeriesStore.open({
        url: influxd.urlFor('ioc'),
        dataDir: dir.path,
        logger: createLogger('silent'),
        metrics: new Metrics({ defaults: false }),
      })
      cleanup(
        () => dir.remove(),
        () => influxd.remove(),
        () => store.close(),
      )
      return store
    },
  ])
}

/** 20 hours of air quality (a pm2.5 episode, o3 by day) and 50 minutes of a rising river. */
function history(now: number): Array<{ dev: typeof air; payload: object }> {
  const out: Array<{ dev: typeof air; payload: object }> = []
  const start = hourStartOf(now) - 20 * HOUR_MS
  let seq = 0
  for (let t = start; t < now - 60_000; t += 10 * 60_000) {
    const h = (t - start) / HOUR_MS
    out.push({
      dev: air,
      payload: {
        ts: t,
        seq: seq++,
        values: { pm25: 20 + 60 * Math.exp(-((h - 12) ** 2) / 8), pm10: 40 + h, o3: 60 + 40 * Math.sin(h / 3), co: 900 },
      },
    })
  }
  for (let i = 0; i < 50; i++)
    out.push({ dev: gauge, payload: { ts: now - (50 - i) * 60_000, seq: i, values: { water_level: 1.2 + 0.01 * i + (i % 3) * 0.002 } } })
  return out
}

describe('ingest warm-up from the store', () => {
  it.each(stores)('continues VN_AQI and rise rate after a restart exactly where a live gateway is (%s)', async (_name, open) => {
    const now = Date.now()
    const store = await open()
    const live = setup({ store })
    for (const m of history(now)) await live.ingest.telemetry(publish(m.dev, m.payload))

    const restarted = setup()
    const counted = await restarted.ingest.warmUp(store)
    expect(counted.hours).toBeGreaterThanOrEqual(20 * 4) // 4 pollutants × 20 completed hours
    expect(counted.readings).toBeGreaterThanOrEqual(50) // the water levels, and this hour's air readings
    const cold = setup()

    const nextAir = { ts: now, seq: 1000, values: { pm25: 35, pm10: 50, o3: 80, co: 900 } }
    const nextLevel = { ts: now, seq: 1000, values: { water_level: 1.75 } }
    const derived = async (s: ReturnType<typeof setup>) => {
      await s.ingest.telemetry(publish(air, nextAir))
      await s.ingest.telemetry(publish(gauge, nextLevel))
      const [a, w] = s.sink.readingsWithDerived().slice(-2)
      return { aqi: a?.fields.aqi, dominant: a?.fields.aqi_dominant, rise: w?.fields.rise_rate }
    }
    // What the live gateway stores for the same two readings.
    await live.ingest.telemetry(publish(air, nextAir))
    await live.ingest.telemetry(publish(gauge, nextLevel))
    const rows = await store.queryPoints({ measurement: 'derived', from: now, to: now + 1, fields: ['aqi', 'aqi_dominant', 'rise_rate'] })
    const liveAir = rows.find((r) => r.tags.device === air.id)
    const liveGauge = rows.find((r) => r.tags.device === gauge.id)
    const liveNext = { aqi: liveAir?.fields.aqi, dominant: liveAir?.fields.aqi_dominant, rise: liveGauge?.fields.rise_rate }

    const warm = await derived(restarted)
    const fresh = await derived(cold)
    expect(liveNext.aqi).toBeGreaterThan(0)
    expect(warm.aqi).toBe(liveNext.aqi)
    expect(warm.dominant).toBe(liveNext.dominant)
    expect(warm.rise).toBeCloseTo(liveNext.rise as number, 9)
    // Without the warm-up the same readings get other values.
    expect(fresh.aqi).not.toBe(liveNext.aqi)
    expect(fresh.rise).not.toBe(liveNext.rise)
  })

  it('reads long histories page by page without splitting an instant', async () => {
    const now = Date.now()
    const points: QueriedPoint[] = []
    // 45,000 water levels from 300 gauges, 150 instants of 300 points each.
    for (let i = 0; i < 150; i++)
      for (let d = 0; d < 300; d++)
        points.push({
          ts: now - 3_000_000 + i * 20_000,
          tags: { device: `g-${d}`, kind: 'water_level' },
          fields: { water_level: 1 + i / 1000 },
        })
    const asked: number[] = []
    const source = {
      async queryPoints(q: PointQuery): Promise<QueriedPoint[]> {
        if (q.every !== undefined) return []
        asked.push(q.from)
        return points.filter((p) => p.tags.kind === q.where?.kind && p.ts >= q.from && p.ts < q.to).slice(0, q.limit)
      },
    }
    const seen = new Map<string, number[]>()
    const rise = {
      add(dev: string, ts: number): undefined {
        if (!seen.has(dev)) seen.set(dev, [])
        seen.get(dev)!.push(ts)
        return undefined
      },
    }
    const r = await warmUp(source, { hourly: memoryHourlyMeans(), rise }, NO_STATIONS, now)
    expect(r.readings).toBe(45_000)
    expect(asked.length).toBeGreaterThan(2) // several pages
    for (const ts of seen.values()) {
      expect(ts).toHaveLength(150)
      expect(ts).toEqual([...ts].sort((a, b) => a - b))
    }
  })
})
