import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ApiApp } from '../../gateway/api/types.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import { InfluxTimeSeriesStore } from '../../gateway/store/influx/store.ts'
import { SqliteTimeSeriesStore } from '../../gateway/store/sqlite/store.ts'
import { MAX_QUERY_POINTS, type Point, type TimeSeriesStore } from '../../gateway/store/types.ts'
import { requireInfluxd, startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir } from '../support/services.ts'
import { readingsApi } from './readings-app.ts'

// `GET /devices/:id/readings` says `"truncated": true` whenever the range holds more points than
// it answered (docs/api.md, "Readings"), over both stores, also at the largest limit: asking the
// store for MAX_QUERY_POINTS used to come back with exactly that many and no flag.

const HAVE_INFLUX = requireInfluxd()
const system = { type: 'system' as const, id: 'test' }
// Recent (InfluxDB keeps raw points 90 days) and second-aligned.
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 48 * 3_600_000
const LOTS = MAX_QUERY_POINTS + 5

function points(device: string, n: number, stepMs: number): Point[] {
  const tags = Object.freeze({ device, kind: 'water_level', station: 'kim-long' })
  return Array.from({ length: n }, (_, i) => ({
    measurement: 'readings',
    tags,
    fields: { water_level: 1 + (i % 1000) / 1000 },
    ts: T0 + i * stepMs,
  }))
}

for (const backend of ['sqlite', 'influx'] as const) {
  describe.skipIf(backend === 'influx' && !HAVE_INFLUX)(`readings API over ${backend}: truncated`, () => {
    const dir = tempDir(`iocgw-truncated-${backend}-`)
    let influxd: Influxd | undefined
    let store: TimeSeriesStore
    let app: ApiApp
    let registry: ReturnType<typeof openRegistry>
    let token: string

    beforeAll(async () => {
      const logger = createLogger('silent')
      const metrics = new Metrics({ defaults: false })
      if (backend === 'influx') {
        influxd = await startInfluxd()
        store = await InfluxTimeSeriesStore.open({ url: influxd.urlFor('ioc_truncated'), dataDir: dir.path, logger, metrics })
      } else store = new SqliteTimeSeriesStore({ dataDir: dir.path, logger, metrics })
      registry = openRegistry(dir.path)
      app = await readingsApi({ registry, store, metrics, logger })
      token = (await registry.createToken({ role: 'viewer', name: 'viewer' }, system)).secret
      for (const id of ['few-01', 'many-01'])
        await registry.createDevice({ id, kind: 'water_level', name: id, station: 'kim-long' }, system)
      await store.write(points('few-01', 25, 60_000))
      const many = points('many-01', LOTS, 1000)
      for (let i = 0; i < many.length; i += 20_000) await store.write(many.slice(i, i + 20_000))
    }, 180_000)
    afterAll(async () => {
      await app?.close()
      await store?.close()
      await registry?.close()
      await influxd?.remove()
      dir.remove()
    }, 60_000)

    const get = async (device: string, query: string, from: number | string = T0) => {
      const res = await app.inject({
        method: 'GET',
        url: `/api/v1/devices/${device}/readings?metric=water_level&from=${encodeURIComponent(from)}&to=${T0 + 3 * 86_400_000}&${query}`,
        headers: { authorization: `Bearer ${token}` },
      })
      expect(res.statusCode).toBe(200)
      return res.json() as { points: Array<{ ts: string }>; truncated?: boolean }
    }

    it('limit 10 over 25 points: 10 points and truncated; asking again from the last ts gives the rest', async () => {
      const first = await get('few-01', 'limit=10')
      expect(first.points).toHaveLength(10)
      expect(first.truncated).toBe(true)
      // Paging as docs/api.md says: from the last ts (inclusive, so that point comes again).
      const seen = new Set(first.points.map((p) => p.ts))
      let page = first
      while (page.truncated) {
        page = await get('few-01', 'limit=10', page.points.at(-1)!.ts)
        for (const p of page.points) seen.add(p.ts)
      }
      expect(seen.size).toBe(25)
      const all = await get('few-01', 'limit=25')
      expect(all.points).toHaveLength(25)
      expect(all.truncated).toBeUndefined()
    }, 60_000)

    it(`the largest limit (${MAX_QUERY_POINTS}) over ${LOTS} points: truncated`, async () => {
      const cut = await get('many-01', `limit=${MAX_QUERY_POINTS}`)
      expect(cut.points).toHaveLength(MAX_QUERY_POINTS)
      expect(cut.truncated).toBe(true)
      const rest = await get('many-01', `limit=${MAX_QUERY_POINTS}`, T0 + MAX_QUERY_POINTS * 1000)
      expect(rest.points).toHaveLength(LOTS - MAX_QUERY_POINTS)
      expect(rest.truncated).toBeUndefined()
    }, 120_000)
  })
}
