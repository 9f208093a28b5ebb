import { describe, expect, it } from 'vitest'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { continuousQueries } from '../../gateway/store/influx/setup.ts'
import { InfluxTimeSeriesStore, type InfluxStoreOptions } from '../../gateway/store/influx/store.ts'
import { useCleanups } from '../support/cleanups.ts'
import { requireInfluxd, startInfluxd } from '../support/influxd.ts'
import { tempDir, waitFor } from '../support/services.ts'
import { storeContract } from './contract.ts'

describe.skipIf(!requireInfluxd())('InfluxDB store', () => {
  storeContract('InfluxDB 1.x', async () => {
    const influxd = await startInfluxd()
    const dir = tempDir('iocgw-store-influx-')
    const logger = createLogger('silent')
    const metrics = new Metrics({ defaults: false })
    const open = () => InfluxTimeSeriesStore.open({ url: influxd.urlFor('ioc_contract'), dataDir: dir.path, logger, metrics })
    let store = await open()
    return {
      store,
      reopen: async () => {
        await store.close()
        store = await open()
        return store
      },
      cleanup: async () => {
        await store.close()
        await influxd.remove()
        dir.remove()
      },
    }
  })
})

describe.skipIf(!requireInfluxd())('InfluxDB store: database setup, rollups, start without InfluxDB', () => {
  const MIN = 60_000
  const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000
  const logger = createLogger('silent')
  const rows = (r: { results: Array<{ series?: Array<{ columns: string[]; values: unknown[][]; tags?: Record<string, string> }> }> }) =>
    r.results[0]?.series ?? []
  const cleanup = useCleanups()

  /** A fresh influxd and data directory for this test (both removed after it), and the store on them writing to `db`. */
  async function freshInflux(db: string, dirPrefix: string) {
    const influxd = await startInfluxd()
    const dir = tempDir(dirPrefix)
    cleanup(dir.remove, () => influxd.remove())
    const open = (opts: Partial<InfluxStoreOptions> = {}) =>
      InfluxTimeSeriesStore.open({ url: influxd.urlFor(db), dataDir: dir.path, logger, metrics: new Metrics({ defaults: false }), ...opts })
    return { influxd, open }
  }

  it('creates the database, the raw (default), rollup_1m and rollup_1h policies, and continuous queries whose rollups are right', async () => {
    const { influxd, open } = await freshInflux('ioc_setup', 'iocgw-store-setup-')
    let store = await open()
    await store.close()
    // A second start finds everything in place and changes nothing.
    store = await open()
    const rps = rows(await influxd.query('SHOW RETENTION POLICIES', 'ioc_setup'))[0]!.values.map((v) => [v[0], v[1], v[4]])
    expect(rps).toEqual(
      expect.arrayContaining([
        ['raw', '2160h0m0s', true],
        ['rollup_1m', '9600h0m0s', false],
        ['rollup_1h', '0s', false],
      ]),
    )
    const cqs = rows(await influxd.query('SHOW CONTINUOUS QUERIES'))
      .find((s) => (s as { name?: string }).name === 'ioc_setup')!
      .values.map((v) => v[0])
    expect(cqs.sort()).toEqual([
      'cq_derived_1h',
      'cq_derived_1m',
      'cq_detections_1h',
      'cq_detections_1m',
      'cq_readings_1h',
      'cq_readings_1m',
    ])

    const tags = { device: 'roll-1', kind: 'water_level', station: 'kim-long' }
    await store.write([
      { measurement: 'readings', tags, fields: { water_level: 1, rainfall: 2, seq: 1 }, ts: T0 + 10_000 },
      { measurement: 'readings', tags, fields: { water_level: 3, rainfall: 5, seq: 2 }, ts: T0 + 40_000 },
      { measurement: 'readings', tags, fields: { water_level: 10, seq: 3 }, ts: T0 + MIN + 1 },
      { measurement: 'derived', tags, fields: { alarm_level: 1, rise_rate: 0.5 }, ts: T0 + 10_000 },
      { measurement: 'derived', tags, fields: { alarm_level: 3, rise_rate: 1.5 }, ts: T0 + 40_000 },
      { measurement: 'detections', tags: { camera: 'cam-1', zone: 'north' }, fields: { car: 4, occupancy: 0.2 }, ts: T0 },
      { measurement: 'detections', tags: { camera: 'cam-1', zone: 'north' }, fields: { car: 7, occupancy: 0.4 }, ts: T0 + 30_000 },
    ])
    await store.close()
    // Run each continuous query's own statement over the test's window, as InfluxDB does on
    // schedule (waiting for the scheduler would take a minute to an hour).

    for (const cq of continuousQueries('ioc_setup')) {
      const q = cq.query.replace(' GROUP BY', ` WHERE time >= ${T0}ms AND time < ${T0 + 3_600_000}ms GROUP BY`)
      const r = await influxd.query(q, 'ioc_setup')
      expect(r.results[0]).not.toHaveProperty('error')
    }
    const m1 = rows(await influxd.query('SELECT * FROM "rollup_1m"."readings_1m" ORDER BY time', 'ioc_setup'))[0]!
    const col = (row: unknown[], name: string) => row[m1.columns.indexOf(name)]
    expect(m1.values).toHaveLength(2)
    expect(col(m1.values[0]!, 'time')).toBe(T0)
    expect(col(m1.values[0]!, 'water_level')).toBe(2)
    expect(col(m1.values[0]!, 'rainfall_sum')).toBe(7)
    expect(col(m1.values[0]!, 'water_level_max')).toBe(3)
    expect(col(m1.values[0]!, 'device')).toBe('roll-1')
    expect(col(m1.values[0]!, 'station')).toBe('kim-long')
    expect(col(m1.values[1]!, 'water_level')).toBe(10)
    // The derived values' rollups, from `derived` (docs/data-model.md).
    const dv = rows(
      await influxd.query('SELECT "alarm_level", "alarm_level_max", "rise_rate", "station" FROM "rollup_1m"."derived_1m"', 'ioc_setup'),
    )[0]!
    expect(dv.values).toEqual([[T0, 2, 3, 1, 'kim-long']])
    const h1 = rows(await influxd.query('SELECT "water_level", "device" FROM "rollup_1h"."readings_1h"', 'ioc_setup'))[0]!
    expect(h1.values).toEqual([[T0, 14 / 3, 'roll-1']])
    const d1 = rows(await influxd.query('SELECT "car", "occupancy", "camera", "zone" FROM "rollup_1m"."detections_1m"', 'ioc_setup'))[0]!
    expect(d1.values[0]!.slice(1, 2)).toEqual([5.5])
    expect(d1.values[0]![2]).toBeCloseTo(0.3, 10)
    expect(d1.values[0]!.slice(3)).toEqual(['cam-1', 'north'])
  }, 60_000)

  it('starts while InfluxDB is down: writes are spooled, health is degraded, and all arrive once it is up', async () => {
    const { influxd, open } = await freshInflux('ioc_late', 'iocgw-store-down-')
    await influxd.stop()
    const store = await open({ backoffMaxMs: 300 })
    expect(store.health()).toMatchObject({ ok: true, degraded: true })
    for (let i = 0; i < 50; i++) {
      await store.write([
        {
          measurement: 'readings',
          tags: { device: 'late-1', kind: 'water_level' },
          fields: { water_level: i, seq: i },
          ts: T0 + i * 1000,
        },
      ])
    }
    expect(store.health().spool).toMatchObject({ points: 50 })
    await influxd.start()
    await waitFor(() => !store.health().degraded, 20_000)
    expect(store.health()).toMatchObject({ ok: true, degraded: false, spool: { points: 0, bytes: 0 } })
    expect(await store.readings({ device: 'late-1', metric: 'seq', from: T0, to: T0 + MIN, limit: 100 })).toHaveLength(50)
    // Later writes go straight to InfluxDB again.
    await store.write([
      { measurement: 'readings', tags: { device: 'late-1', kind: 'water_level' }, fields: { water_level: 99, seq: 99 }, ts: T0 + 99_000 },
    ])
    expect(store.health().spool).toMatchObject({ points: 0 })
    await store.close()
  }, 60_000)

  it('recovers after influxd is killed with -9 and started again on the same data', async () => {
    const { influxd, open } = await freshInflux('ioc_k9', 'iocgw-store-kill9-')
    const store = await open({ backoffMaxMs: 300 })
    const p = (i: number) => ({
      measurement: 'readings',
      tags: { device: 'k9-1', kind: 'water_level' },
      fields: { water_level: i, seq: i },
      ts: T0 + i * 1000,
    })
    await store.write([p(1), p(2)])
    await influxd.kill()
    expect(influxd.running).toBe(false)
    await store.write([p(3)]) // spooled: acknowledged while InfluxDB is gone
    await influxd.start()
    await store.write([p(4)])
    await waitFor(() => !store.health().degraded && store.health().spool!.points === 0, 20_000)
    // InfluxDB's own WAL kept what it had acknowledged before the kill; the spool the rest.
    expect((await store.readings({ device: 'k9-1', metric: 'seq', from: T0, to: T0 + MIN, limit: 10 })).map((x) => x.value)).toEqual([
      1, 2, 3, 4,
    ])
    await store.close()
  }, 60_000)

  it('splits a write larger than a batch into batch-sized requests and spool records', async () => {
    const { influxd, open } = await freshInflux('ioc_big', 'iocgw-store-big-')
    const store = await open({ batchPoints: 100, backoffMaxMs: 200 })
    const pts = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        measurement: 'readings',
        tags: { device: 'big-1', kind: 'water_level' },
        fields: { water_level: from + i, seq: from + i },
        ts: T0 + (from + i) * 10,
      }))
    await store.write(pts(0, 1050))
    await influxd.stop()
    await store.write(pts(1050, 1050)) // spooled in 11 records
    await influxd.start()
    await waitFor(() => !store.health().degraded && store.health().spool!.points === 0, 20_000)
    const seqs = (await store.readings({ device: 'big-1', metric: 'seq', from: T0, to: T0 + 3_600_000, limit: 10_000 })).map((p) => p.value)
    expect(seqs).toEqual(Array.from({ length: 2100 }, (_, i) => i))
    await store.close()
  }, 60_000)
})
