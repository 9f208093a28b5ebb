import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../gateway/app.ts'
import { exportWorkers } from '../../gateway/exports/in-worker.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { SqliteTimeSeriesStore } from '../../gateway/store/index.ts'
import { quietLog, startQuietGateway } from '../support/gateway-api.ts'
import { tempDir, waitFor } from '../support/services.ts'

// How a CSV export leaves the gateway (docs/api.md "Exports"): written out chunk by chunk, with the
// API's own headers, counted by how it ended; a client that goes away stops the store scan.

const ADMIN = `iocgw_stream-admin-${Math.random().toString(36).slice(2)}`
const dir = tempDir('iocgw-export-stream-')
const T0 = Date.parse('2026-10-01T00:00:00Z')
const N = 100_000
const URL_PATH = `/api/v1/exports/readings.csv?from=${T0}&to=${T0 + N * 1000}`
let gw: RunningGateway
let base: string
const auth = { authorization: `Bearer ${ADMIN}` }

async function counter(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`, { headers: auth })).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`))
  return line ? Number(line.split(' ').pop()) : 0
}

beforeAll(async () => {
  const store = new SqliteTimeSeriesStore({
    dataDir: dir.path,
    logger: createLogger('warn', quietLog()),
    metrics: new Metrics({ defaults: false }),
    retentionDays: 100_000,
  })
  const points = []
  for (let i = 0; i < N; i++)
    points.push({
      measurement: 'readings',
      ts: T0 + i * 1000,
      tags: { device: `wl-${i % 2}`, kind: 'water_level', station: `st-${i % 2}`, district: 'Phú Xuân' },
      fields: { water_level: 1 + (i % 50) / 100, seq: i },
    })
  await store.write(points)
  await store.close()
  gw = await startQuietGateway(dir.path, ADMIN)
  base = `http://127.0.0.1:${gw.ports.http}`
}, 120_000)
afterAll(async () => {
  await gw?.close()
  dir.remove()
})

describe('a streamed CSV export', () => {
  it('arrives whole with the API headers, and is counted complete with its rows', async () => {
    const res = await fetch(`${base}${URL_PATH}`, { headers: auth })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8; header=present')
    expect(res.headers.get('cache-control')).toBe('no-store')
    // Headers from the API's hooks (helmet) are kept on a response written chunk by chunk.
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    const lines = (await res.text()).split('\r\n')
    expect(lines).toHaveLength(N + 2)
    expect(lines.at(-2)).toMatch(/^2026-10-02T03:46:39\.000Z,wl-1,water_level,st-1,Phú Xuân,99999,/)
    await waitFor(async () => (await counter('iocgw_exports_total', 'what="readings",outcome="complete"')) === 1, 10_000, 50)
    expect(await counter('iocgw_export_rows_total', 'what="readings"')).toBe(N)
  }, 120_000)

  it('stops the scan and is counted aborted when the client goes away', async () => {
    const ac = new AbortController()
    const res = await fetch(`${base}${URL_PATH}`, { headers: auth, signal: ac.signal })
    const reader = res.body!.getReader()
    expect((await reader.read()).done).toBe(false)
    ac.abort()
    await waitFor(async () => (await counter('iocgw_exports_total', 'what="readings",outcome="aborted"')) === 1, 10_000, 50)
    // The worker of a cut export is stopped, not kept for the next one.
    await waitFor(() => exportWorkers() === 0, 10_000, 50)
    expect(await counter('iocgw_export_rows_total', 'what="readings"')).toBeLessThan(2 * N)
  }, 120_000)

  it('answers HEAD with the headers alone', async () => {
    const res = await fetch(`${base}${URL_PATH}`, { method: 'HEAD', headers: auth })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8; header=present')
    expect(await res.text()).toBe('')
    // The scan it started is stopped, its worker with it.
    await waitFor(() => exportWorkers() === 0, 10_000, 50)
  }, 120_000)
})
