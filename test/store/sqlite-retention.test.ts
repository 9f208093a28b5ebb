import Database from 'better-sqlite3'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { RetentionSweeper } from '../../gateway/store/sqlite/retention.ts'
import { SqliteTimeSeriesStore } from '../../gateway/store/sqlite/store.ts'
import type { Point } from '../../gateway/store/types.ts'
import { useCleanups } from '../support/cleanups.ts'
import { tempDir, waitFor } from '../support/services.ts'

const DAY = 86_400_000
const NOW = Date.parse('2026-11-29T00:00:00Z')
const all = { from: NOW - 400 * DAY, to: NOW + DAY, limit: 100_000 }

const reading = (device: string, ts: number, values: Record<string, number>): Point => ({
  measurement: 'readings',
  tags: { device, kind: 'water_level', station: 'kim-long' },
  fields: values,
  ts,
})

describe('SQLite time series: retention', () => {
  const cleanup = useCleanups()

  function open(opts: { retentionDays?: number; retentionSweepMs?: number } = {}) {
    const dir = tempDir('iocgw-retention-')
    const metrics = new Metrics({ defaults: false })
    const store = new SqliteTimeSeriesStore({ dataDir: dir.path, logger: createLogger('silent'), metrics, ...opts })
    cleanup(
      () => dir.remove(),
      () => store.close(),
    )
    return { store, metrics, dir: dir.path }
  }

  it('deletes samples older than the retention, keeps the rest, and forgets latest values of series silent since', async () => {
    const { store, metrics } = open({ retentionDays: 90 })
    await store.write([
      reading('old-and-new', NOW - 100 * DAY, { water_level: 1, battery: 12 }),
      reading('old-and-new', NOW - 91 * DAY, { water_level: 2, battery: 12 }),
      reading('old-and-new', NOW - 89 * DAY, { water_level: 3, battery: 12 }),
      reading('old-and-new', NOW - DAY, { water_level: 4, battery: 12 }),
      reading('silent', NOW - 95 * DAY, { water_level: 5 }),
      { measurement: 'detections', tags: { camera: 'cam-1', zone: 'lane-1' }, fields: { car: 3 }, ts: NOW - 120 * DAY },
      { measurement: 'detections', tags: { camera: 'cam-1', zone: 'lane-1' }, fields: { car: 4 }, ts: NOW - 10 * DAY },
    ])
    expect((await store.latest({})).map((l) => l.device)).toEqual(['old-and-new', 'silent'])

    // 2 x 2 readings samples, 1 of the silent device, 1 detection.
    expect(await store.sweepRetention(NOW)).toBe(6 + 1) // + the silent device's latest row
    expect((await store.readings({ device: 'old-and-new', metric: 'water_level', ...all })).map((p) => p.value)).toEqual([3, 4])
    expect((await store.readings({ device: 'old-and-new', metric: 'battery', ...all })).map((p) => p.ts)).toEqual([
      NOW - 89 * DAY,
      NOW - DAY,
    ])
    expect(await store.readings({ device: 'silent', metric: 'water_level', ...all })).toEqual([])
    expect((await store.queryPoints({ measurement: 'detections', ...all })).map((p) => p.fields.car)).toEqual([4])
    const latest = await store.latest({})
    expect(latest.map((l) => l.device)).toEqual(['old-and-new'])
    expect(latest[0]!.values.water_level).toBe(4)

    expect(await store.sweepRetention(NOW)).toBe(0)
    expect(await metrics.text()).toMatch(/store_points_expired_total\{backend="sqlite"\} 7/)
  })

  it('walks a long history in chunks and slices, giving the event loop turns in between', async () => {
    const { store, dir } = open()
    const points: Point[] = []
    for (let d = 0; d < 3; d++)
      for (let i = 0; i < 500; i++) points.push(reading(`dev-${d}`, NOW - 200 * DAY + i * 60_000, { water_level: i / 100 }))
    points.push(reading('dev-0', NOW - DAY, { water_level: 9 }))
    await store.write(points)
    await store.close()

    const db = new Database(join(dir, 'timeseries.db'))
    cleanup(() => void db.close())
    const sweeper = new RetentionSweeper(db, { retentionMs: 90 * DAY, chunk: 7, sliceMs: 0 })
    // Other work gets the loop between slices: count the turns of a setImmediate chain.
    let turns = 0
    let sweeping = true
    const other = () => {
      turns++
      if (sweeping) setImmediate(other)
    }
    setImmediate(other)
    const deleted = await sweeper.sweep(NOW)
    sweeping = false
    expect(deleted).toBe(1500 + 2) // the samples, and the latest rows of dev-1 and dev-2
    // sliceMs 0: one statement per slice; 1,500 expired rows in chunks of 7 are 200+ slices.
    expect(turns).toBeGreaterThan(200)
    expect(db.prepare('SELECT count(*) FROM samples').pluck().get()).toBe(1)
  })

  it('runs on its own timer and stops cleanly when the store closes mid-sweep', async () => {
    const { store } = open({ retentionSweepMs: 50 })
    await store.write([reading('timer', NOW - 365 * DAY, { water_level: 1 }), reading('timer', Date.now(), { water_level: 2 })])
    await waitFor(
      async () => (await store.readings({ device: 'timer', metric: 'water_level', from: 0, to: Date.now() + DAY, limit: 10 })).length === 1,
    )

    const big: Point[] = []
    for (let i = 0; i < 20_000; i++) big.push(reading(`many-${i % 2000}`, Date.now() - 200 * DAY + i, { water_level: 1 }))
    await store.write(big)
    const sweep = store.sweepRetention()
    await store.close()
    await expect(sweep).resolves.toBeGreaterThanOrEqual(0)
  })
})
