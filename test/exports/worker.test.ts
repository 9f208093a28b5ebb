import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exportWorkers } from '../../gateway/exports/in-worker.ts'
import { csvChunks, pointsCsv } from '../../gateway/exports/points.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { SqliteTimeSeriesStore } from '../../gateway/store/index.ts'
import { tempDir, waitFor } from '../support/services.ts'

// docs/api.md "Exports": readings and detections are formatted in a worker thread with its own
// store connection; its CSV must be the main thread's, byte for byte, and a client that goes away
// must end the worker (its scan stops).

const dir = tempDir('iocgw-export-worker-')
const quiet = () => new Writable({ write: (_c, _e, cb) => cb() })
const T0 = Date.parse('2026-10-01T00:00:00Z')
const N = 20_000
let store: SqliteTimeSeriesStore
const q = { measurement: 'readings' as const, from: T0, to: T0 + N * 1000 }

async function text(chunks: AsyncIterable<string | Uint8Array>): Promise<string> {
  const parts: Buffer[] = []
  for await (const c of chunks) parts.push(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c))
  return Buffer.concat(parts).toString('utf8')
}

beforeAll(async () => {
  store = new SqliteTimeSeriesStore({
    dataDir: dir.path,
    logger: createLogger('warn', quiet()),
    metrics: new Metrics({ defaults: false }),
    retentionDays: 100_000,
  })
  const points = []
  for (let i = 0; i < N; i++) {
    const d = i % 2
    points.push({
      measurement: 'readings',
      ts: T0 + i * 1000,
      tags: { device: `wl-${d}`, kind: 'water_level', station: `st-${d}`, district: 'Phú Xuân' },
      fields: { water_level: 1 + (i % 50) / 100, note: i % 7 === 0 ? 'a "quoted", value' : 'ok', ok: i % 3 === 0 },
    })
  }
  await store.write(points)
})
afterAll(async () => {
  await store.close()
  dir.remove()
})

describe('the export worker', () => {
  it('writes the same bytes as the scan formatted on the main thread', async () => {
    const scan = await store.scan(q)
    expect(scan.source?.store).toBe('sqlite')
    const main = await text(csvChunks(scan.pages, 'readings', scan.fields, () => {}))
    const csv = await pointsCsv(store, q)
    const worker = await text(csv.chunks)
    expect(csv.rows()).toBe(N)
    expect(worker.split('\r\n')).toHaveLength(N + 2)
    expect(worker).toBe(main)
    // The finished worker waits, idle, for the next export.
    expect(exportWorkers()).toBe(1)
  }, 120_000)

  it('ends the worker when the client stops reading', async () => {
    const csv = await pointsCsv(store, q)
    const first = await csv.chunks.next()
    expect(first.done).toBe(false)
    expect(exportWorkers()).toBe(1)
    await csv.chunks.return(undefined)
    await waitFor(() => exportWorkers() === 0, 30_000, 50)
    expect(csv.rows()).toBeLessThan(N)
  }, 120_000)
})
