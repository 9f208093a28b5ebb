import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { InfluxTimeSeriesStore } from '../../gateway/store/influx/store.ts'
import type { Point } from '../../gateway/store/types.ts'
import { requireInfluxd, useInfluxd } from '../support/influxd.ts'
import { expectRestartDeliversAll, spawnSpoolWriter, storedSeqs } from './fixtures/spawn-spool-writer.ts'
import { tempDir, waitFor } from '../support/services.ts'

// A stalled InfluxDB (SIGSTOP: connections open, nothing answered) must not hold acknowledgements:
// a write request it has not answered within spillAfterMs goes to the spill journal on disk and
// its writers are answered from there, in direct mode (not degraded). Once InfluxDB answers, the
// journal is emptied; if the process dies first, the next start replays it. Real influxd throughout.

const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 6 * 3_600_000

const segments = (dir: string): string[] => readdirSync(join(dir, 'influx-spill')).filter((f) => f.endsWith('.seg'))

describe.skipIf(!requireInfluxd())('InfluxDB store: a stalled InfluxDB does not hold acknowledgements', () => {
  const influxd = useInfluxd()

  it('answers writers from the spill journal while influxd is stopped, and empties the journal once it answers', async () => {
    const dir = tempDir('iocgw-spill-')
    const db = 'ioc_spill'
    const metrics = new Metrics({ defaults: false })
    // A request timeout far beyond the stall: what answers the writers is the spill, not a failure.
    const store = await InfluxTimeSeriesStore.open({
      url: influxd.urlFor(db),
      dataDir: dir.path,
      logger: createLogger('silent'),
      metrics,
      requestTimeoutMs: 120_000,
    })
    let seq = 0
    const batch = (): Point[] =>
      Array.from({ length: 50 }, () => {
        seq++
        return {
          measurement: 'readings',
          tags: { device: 'spill-1', kind: 'water_level' },
          fields: { water_level: seq / 1000, seq },
          ts: T0 + seq * 100,
        }
      })
    let read: ReturnType<typeof store.readings> | undefined
    const spilled = async () => Number(/store_spilled_requests_total\{backend="influx"\} (\d+)/.exec(await metrics.text())?.[1] ?? 0)
    try {
      await store.write(batch())
      await waitFor(() => store.health().spool!.points === 0, 30_000, 20)
      const spilledBefore = await spilled()

      influxd.pause()
      try {
        // Each write is answered although influxd answers nothing: from the spool, not degraded.
        for (let i = 0; i < 3; i++) {
          const stalled = new Promise<never>((_, reject) =>
            setTimeout(() => reject(new Error(`write ${i + 1} not answered while InfluxDB was stopped`)), 30_000).unref(),
          )
          await Promise.race([store.write(batch()), stalled])
          expect(store.health().degraded).toBe(false)
        }
        expect(store.health().spool!.points).toBe(150)
        expect(segments(dir.path).length).toBeGreaterThan(0)
        expect((await spilled()) - spilledBefore).toBe(3)
        // A read started now sees every acknowledged reading: it waits for those requests.
        read = store.readings({ device: 'spill-1', metric: 'water_level', from: T0, to: T0 + 3_600_000, limit: 1000 })
      } finally {
        influxd.resume()
      }
      expect((await read!).length).toBe(200)

      // The requests go on; once all are answered the records go.
      await waitFor(() => store.health().spool!.points === 0, 30_000, 20)
      expect(segments(dir.path)).toEqual([])
      expect(store.health().degraded).toBe(false)
      const stored = await storedSeqs(influxd, db, 'spill-1')
      expect(stored.count).toBe(200)
      expect(new Set(stored.seqs).size).toBe(200)
      // Counted as written once each, whichever answer came first.
      expect(await metrics.text()).toMatch(/store_points_written_total\{backend="influx"\} 200\b/)
    } finally {
      await store.close()
      dir.remove()
    }
  }, 90_000)

  it('a writer killed with -9 while influxd is stalled loses none of the points it acknowledged from the spill journal', async () => {
    const dir = tempDir('iocgw-spill-kill-')
    const db = 'ioc_spill_kill'
    let acked = 0
    let paused = false
    // Acknowledgements given while influxd was stopped, in direct mode, with points on disk.
    let spilledAcks = 0
    const writer = spawnSpoolWriter(
      { url: influxd.urlFor(db), dataDir: dir.path, device: 'spill-kill', t0: T0, requestTimeoutMs: 120_000 },
      (a) => {
        acked = a.seq
        if (paused && !a.degraded && a.spooled > 0) spilledAcks++
      },
    )
    try {
      await waitFor(() => acked >= 500, 30_000)
      influxd.pause()
      paused = true
      // At most 2 + 4 requests go unanswered at once, so a stalled InfluxDB lets a handful of
      // writes through the journal before the writer waits; three show it.
      await waitFor(() => spilledAcks >= 3, 30_000, 10)
      await writer.kill9()
    } finally {
      influxd.resume()
      paused = false
    }
    const ackedAtKill = acked

    await expectRestartDeliversAll(influxd, db, dir.path, 'spill-kill', ackedAtKill)
    dir.remove()
  }, 120_000)
})
