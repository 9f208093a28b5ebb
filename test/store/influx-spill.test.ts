import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { InfluxTimeSeriesStore } from '../../gateway/store/influx/store.ts'
import type { Point } from '../../gateway/store/types.ts'
import { requireInfluxd, startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir, waitFor } from '../support/services.ts'

// A stalled InfluxDB (SIGSTOP: connections open, nothing answered) must not hold acknowledgements:
// a write request it has not answered within spillAfterMs goes to the spill journal on disk and
// its writers are answered from there, in direct mode (not degraded). Once InfluxDB answers, the
// journal is emptied; if the process dies first, the next start replays it. Real influxd throughout.

const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 6 * 3_600_000

async function seqsOf(influxd: Influxd, db: string, device: string): Promise<{ count: number; seqs: Set<number> }> {
  const r = await influxd.query(`SELECT "seq" FROM "raw"."readings" WHERE "device" = '${device}'`, db)
  const values = r.results[0]?.series?.[0]?.values ?? []
  return { count: values.length, seqs: new Set(values.map((v) => v[1] as number)) }
}

const segments = (dir: string): string[] => readdirSync(join(dir, 'influx-spill')).filter((f) => f.endsWith('.seg'))

describe.skipIf(!requireInfluxd())('InfluxDB store: a stalled InfluxDB does not hold acknowledgements', () => {
  let influxd: Influxd
  beforeAll(async () => {
    influxd = await startInfluxd()
  }, 60_000)
  afterAll(async () => {
    await influxd?.remove()
  }, 60_000)

  it('answers writers from the spill journal while influxd is stopped, and empties the journal once it answers', async () => {
    const dir = tempDir('iocgw-spill-')
    const db = 'ioc_spill'
    const metrics = new Metrics({ defaults: false })
    // A request timeout far beyond the stall: what answers the writers is the spill, not a failure.
    const store = await InfluxTimeSeriesStore.open({ url: influxd.urlFor(db), dataDir: dir.path, logger: createLogger('silent'), metrics, requestTimeoutMs: 120_000 })
    let seq = 0
    const batch = (): Point[] =>
      Array.from({ length: 50 }, () => {
        seq++
        return { measurement: 'readings', tags: { device: 'spill-1', kind: 'water_level' }, fields: { water_level: seq / 1000, seq }, ts: T0 + seq * 100 }
      })
    const spilled = async () => Number(/store_spilled_requests_total\{backend="influx"\} (\d+)/.exec(await metrics.text())?.[1] ?? 0)
    try {
      await store.write(batch())
      await waitFor(() => store.health().spool!.points === 0, 30_000, 20)
      const spilledBefore = await spilled()

      influxd.pause()
      try {
        // Each write is answered although influxd answers nothing: from the spool, not degraded.
        for (let i = 0; i < 3; i++) {
          const stalled = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`write ${i + 1} not answered while InfluxDB was stopped`)), 30_000).unref())
          await Promise.race([store.write(batch()), stalled])
          expect(store.health().degraded).toBe(false)
        }
        expect(store.health().spool!.points).toBe(150)
        expect(segments(dir.path).length).toBeGreaterThan(0)
        expect((await spilled()) - spilledBefore).toBe(3)
      } finally {
        influxd.resume()
      }

      // The requests go on; once all are answered the records go.
      await waitFor(() => store.health().spool!.points === 0, 30_000, 20)
      expect(segments(dir.path)).toEqual([])
      expect(store.health().degraded).toBe(false)
      const stored = await seqsOf(influxd, db, 'spill-1')
      expect(stored.count).toBe(200)
      expect(stored.seqs.size).toBe(200)
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
    const fixture = fileURLToPath(new URL('./fixtures/spool-writer.ts', import.meta.url))
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, influxd.urlFor(db), dir.path, 'spill-kill', String(T0), '120000'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const exited = once(child, 'exit')
    let acked = 0
    let paused = false
    // Acknowledgements given while influxd was stopped, in direct mode, with points in the spool.
    let spilledAcks = 0
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [, s, degraded, spooled] = line.split(' ')
      acked = Number(s)
      if (paused && degraded === '0' && Number(spooled) > 0) spilledAcks++
    })
    try {
      await waitFor(() => acked >= 500, 30_000)
      influxd.pause()
      paused = true
      // At most 2 + 4 requests go unanswered at once, so a stalled InfluxDB lets a handful of
      // writes through the journal before the writer waits; three show it.
      await waitFor(() => spilledAcks >= 3, 30_000, 10)
      child.kill('SIGKILL')
      await exited
    } finally {
      influxd.resume()
      paused = false
    }
    const ackedAtKill = acked

    const store = await InfluxTimeSeriesStore.open({ url: influxd.urlFor(db), dataDir: dir.path, logger: createLogger('silent'), metrics: new Metrics({ defaults: false }) })
    try {
      await waitFor(() => store.health().spool!.points === 0 && !store.health().degraded, 30_000, 50)
    } finally {
      await store.close()
    }
    const stored = await seqsOf(influxd, db, 'spill-kill')
    const missing: number[] = []
    for (let s = 1; s <= ackedAtKill; s++) if (!stored.seqs.has(s)) missing.push(s)
    expect(missing).toEqual([])
    // A replayed record lands on its own points: each point once.
    expect(stored.count).toBe(stored.seqs.size)
    dir.remove()
  }, 120_000)
})
