import { readFileSync, appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { lateBefore, RollupBackfill } from '../../gateway/store/influx/rollup-backfill.ts'
import { SeriesRanges } from '../../gateway/store/influx/series-ranges.ts'
import { InfluxTimeSeriesStore } from '../../gateway/store/influx/store.ts'
import { requireInfluxd, startInfluxd } from '../support/influxd.ts'
import { tempDir, waitFor } from '../support/services.ts'

// Points that reach InfluxDB after the continuous queries computed their buckets for the last time
// (one and two intervals after a bucket closes) get their series' rollups recomputed.

const MIN = 60_000
const HOUR = 3_600_000
const logger = createLogger('silent')

function ranges(...xs: Array<[string, number]>): SeriesRanges {
  const r = new SeriesRanges()
  for (const [s, ts] of xs) r.add(s, ts)
  return r
}

/** A journal in a temp dir and the queries its runs send. */
function journal(dir: string, opts: { maxSeries?: number; fail?: boolean } = {}) {
  const queries: string[] = []
  const b = new RollupBackfill({
    file: join(dir, 'late.jsonl'),
    database: 'ioc',
    run: async (q) => {
      if (opts.fail) throw new Error('influx down')
      queries.push(q)
    },
    logger,
    ready: () => true,
    ...(opts.maxSeries !== undefined ? { maxSeries: opts.maxSeries } : {}),
  })
  return { b, queries }
}

describe('late points for the rollups', () => {
  it('calls a point late once its minute bucket started more than 1 min 45 s before it lands', () => {
    const now = Date.UTC(2026, 10, 29, 10, 30, 20)
    const before = lateBefore(now)
    // Bucket 10:28 started 2 min 20 s before: late. Bucket 10:29 started 80 s before: in time.
    expect(before).toBe(Date.UTC(2026, 10, 29, 10, 29))
    expect(lateBefore(Date.UTC(2026, 10, 29, 10, 30, 45))).toBe(Date.UTC(2026, 10, 29, 10, 29))
    expect(lateBefore(Date.UTC(2026, 10, 29, 10, 30, 45, 1))).toBe(Date.UTC(2026, 10, 29, 10, 30))
  })

  it('notes late series by hour in a journal that outlives a restart, and recomputes each series hour with both rollups', async () => {
    const dir = tempDir('iocgw-late-')
    try {
      const now = Date.now()
      const h = Math.floor((now - 5 * HOUR) / HOUR) * HOUR
      let { b, queries } = journal(dir.path)
      // Nothing late: nothing noted, nothing written.
      b.note(ranges(['readings,device=g1', now - 1000]), now)
      expect(b.size).toBe(0)
      b.note(
        ranges(
          ['readings,device=g1,station=kim\\ long', h + 5 * MIN],
          ['readings,device=g1,station=kim\\ long', h + HOUR + 1],
          ['readings,device=g2', now - 1000],
        ),
        now,
      )
      b.note(ranges(['detections,camera=c\\,1', h + 10]), now)
      expect(b.size).toBe(2)
      await b.close()
      // A torn line at the tail (killed mid-append) is skipped.
      appendFileSync(join(dir.path, 'late.jsonl'), '{"s":"readings,dev')
      ;({ b, queries } = journal(dir.path))
      expect(b.size).toBe(2)
      await b.runNow()
      expect(b.size).toBe(0)
      expect(readFileSync(join(dir.path, 'late.jsonl'), 'utf8')).toBe('')
      // Two hours of g1 and one of the camera, each through the 1 m and the 1 h rollup.
      expect(queries).toHaveLength(6)
      expect(queries[0]).toContain(
        `INTO "ioc"."rollup_1m"."readings_1m" FROM "ioc"."raw"."readings" WHERE (("device" = 'g1' AND "station" = 'kim long')) AND time >= ${h}ms AND time < ${h + HOUR}ms GROUP BY time(1m), *`,
      )
      expect(queries[1]).toContain(
        `INTO "ioc"."rollup_1h"."readings_1h" FROM "ioc"."raw"."readings" WHERE (("device" = 'g1' AND "station" = 'kim long')) AND time >= ${h}ms AND time < ${h + HOUR}ms GROUP BY time(1h), *`,
      )
      expect(queries[2]).toContain(`time >= ${h + HOUR}ms AND time < ${h + 2 * HOUR}ms`)
      expect(queries[4]).toContain(`INTO "ioc"."rollup_1m"."detections_1m" FROM "ioc"."raw"."detections" WHERE (("camera" = 'c,1'))`)
      await b.close()
    } finally {
      dir.remove()
    }
  })

  it('keeps what it could not recompute, and series noted during a run, for the next run', async () => {
    const dir = tempDir('iocgw-late-')
    try {
      const now = Date.now()
      const { b } = journal(dir.path, { fail: true })
      b.note(ranges(['readings,device=g1', now - 3 * HOUR]), now)
      await b.runNow()
      expect(b.size).toBe(1)
      await b.close()

      let release = (): void => {}
      const queries: string[] = []
      const slow = new RollupBackfill({
        file: join(dir.path, 'late.jsonl'),
        database: 'ioc',
        run: (q) => {
          queries.push(q)
          return new Promise((r) => (release = r))
        },
        logger,
        ready: () => true,
      })
      const run = slow.runNow()
      await waitFor(() => queries.length === 1, 1000, 5)
      slow.note(ranges(['readings,device=g1', now - 3 * HOUR + 1]), now)
      for (let i = 0; i < 2; i++) {
        release()
        await new Promise((r) => setTimeout(r, 5))
      }
      await run
      expect(slow.size).toBe(1) // noted after the run read it: recomputed again next time
      await slow.close()
    } finally {
      dir.remove()
    }
  })

  it("past maxSeries, recomputes the measurement's whole hours instead of growing", async () => {
    const dir = tempDir('iocgw-late-')
    try {
      const now = Date.now()
      const h = Math.floor((now - 3 * HOUR) / HOUR) * HOUR
      const { b, queries } = journal(dir.path, { maxSeries: 2 })
      b.note(ranges(...Array.from({ length: 5 }, (_, i): [string, number] => [`readings,device=g${i}`, h + i])), now)
      expect(b.size).toBe(3)
      await b.runNow()
      expect(queries).toHaveLength(2)
      expect(queries[0]).toContain(`FROM "ioc"."raw"."readings" WHERE time >= ${h}ms AND time < ${h + HOUR}ms GROUP BY time(1m), *`)
      await b.close()
    } finally {
      dir.remove()
    }
  })
})

describe.skipIf(!requireInfluxd())('late points for the rollups, on a real InfluxDB', () => {
  it('recomputes the rollups of late points written directly, drained from the spool after an outage, and noted before a restart', async () => {
    // The scheduler never runs: every rollup row below comes from the recomputation.
    const influxd = await startInfluxd({ cqRunInterval: '1000h' })
    const dir = tempDir('iocgw-late-influx-')
    const url = influxd.urlFor('ioc_late')
    const metrics = new Metrics({ defaults: false })
    const open = (rollupRecomputeMs: number) =>
      InfluxTimeSeriesStore.open({ url, dataDir: dir.path, logger, metrics, rollupRecomputeMs, backoffMaxMs: 300 })
    const T0 = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR
    const reading = (device: string, ts: number, water_level: number) => ({
      measurement: 'readings',
      tags: { device, kind: 'water_level', station: 'kim-long' },
      fields: { water_level, seq: ts % 1000 },
      ts,
    })
    const rollup = async (rp: string, m: string, device: string) =>
      (
        (await influxd.query(`SELECT "water_level", "water_level_max" FROM "${rp}"."${m}" WHERE "device" = '${device}'`, 'ioc_late'))
          .results[0]?.series?.[0]?.values ?? []
      ).map((v) => v.slice(0, 3))
    try {
      let store = await open(100)
      await store.write([
        reading('direct', T0 + 1000, 1),
        reading('direct', T0 + 2000, 3),
        reading('direct', T0 + MIN, 10),
        reading('fresh', Date.now(), 5),
      ])
      // Both rollups: each is its own query, the 1-hour one after the 1-minute one.
      await waitFor(
        async () =>
          (await rollup('rollup_1m', 'readings_1m', 'direct')).length === 2 &&
          (await rollup('rollup_1h', 'readings_1h', 'direct')).length === 1,
        10_000,
      )
      expect(await rollup('rollup_1m', 'readings_1m', 'direct')).toEqual([
        [T0, 2, 3],
        [T0 + MIN, 10, 10],
      ])
      expect(await rollup('rollup_1h', 'readings_1h', 'direct')).toEqual([[T0, 14 / 3, 10]])
      // A reading in time is left to the continuous queries.
      expect(await rollup('rollup_1m', 'readings_1m', 'fresh')).toEqual([])

      // Through the spool: written while InfluxDB is down, recomputed once drained.
      await influxd.stop()
      await store.write([reading('spooled', T0 + 5 * MIN, 7)])
      expect(store.health().spool).toMatchObject({ points: 1 })
      await influxd.start()
      await waitFor(async () => (await rollup('rollup_1h', 'readings_1h', 'spooled')).length === 1, 20_000)
      expect(await rollup('rollup_1m', 'readings_1m', 'spooled')).toEqual([[T0 + 5 * MIN, 7, 7]])
      await store.close()

      // Noted, then the gateway stops before the next run: the next start recomputes it.
      store = await open(3_600_000)
      await store.write([reading('restart', T0 + 7 * MIN, 4)])
      await store.close()
      expect(readFileSync(join(dir.path, 'influx-late-rollups.jsonl'), 'utf8')).toContain('restart')
      expect(await rollup('rollup_1m', 'readings_1m', 'restart')).toEqual([])
      store = await open(100)
      await waitFor(async () => (await rollup('rollup_1m', 'readings_1m', 'restart')).length === 1, 10_000)
      await waitFor(() => readFileSync(join(dir.path, 'influx-late-rollups.jsonl'), 'utf8') === '', 5000)
      const text = await metrics.text()
      expect(text).toMatch(/store_rollup_recompute_queries_total\{backend="influx",result="ok"\} [1-9]/)
      expect(text).toContain('store_rollup_recompute_pending{backend="influx"} 0')
      await store.close()
    } finally {
      await influxd.remove()
      dir.remove()
    }
  }, 90_000)
})
