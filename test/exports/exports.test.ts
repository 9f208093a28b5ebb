import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openAlertsDb } from '../../gateway/alerts/db.ts'
import { sqliteAlertStore } from '../../gateway/alerts/sqlite-store.ts'
import type { RunningGateway } from '../../gateway/app.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { SqliteTimeSeriesStore } from '../../gateway/store/index.ts'
import { logIn, quietLog, startQuietGateway } from '../support/gateway-api.ts'
import { BIN } from '../support/gateway-process.ts'
import { tempDir } from '../support/services.ts'
import { csvObjects, parseCsv } from './csv-parse.ts'

// CSV exports (docs/api.md "Exports") against the gateway as `iocgw start` wires it, on SQLite.

const ADMIN = `iocgw_export-admin-${Math.random().toString(36).slice(2)}`
const PASSWORD = 'a long enough password 1'
const dir = tempDir('iocgw-export-')
let gw: RunningGateway
let base: string
const T0 = Date.parse('2026-10-01T00:00:00Z')

async function get(
  path: string,
  auth: { token?: string; cookie?: string } = { token: ADMIN },
): Promise<{ status: number; headers: Headers; text: string }> {
  const headers: Record<string, string> = {}
  if (auth.token) headers.authorization = `Bearer ${auth.token}`
  if (auth.cookie) headers.cookie = auth.cookie
  const res = await fetch(`${base}/api/v1${path}`, { headers })
  return { status: res.status, headers: res.headers, text: await res.text() }
}

beforeAll(async () => {
  // Set-up straight into the stores (before the gateway opens them).
  const store = new SqliteTimeSeriesStore({
    dataDir: dir.path,
    logger: createLogger('warn', quietLog()),
    metrics: new Metrics({ defaults: false }),
  })
  const points = []
  for (let i = 0; i < 30; i++) {
    points.push({
      measurement: 'readings',
      ts: T0 + i * 60_000,
      tags: { device: 'kim-long-01', kind: 'water_level', station: 'kim-long', district: 'Phú Xuân' },
      fields: { water_level: 1 + i / 100, seq: i },
    })
    points.push({
      measurement: 'readings',
      ts: T0 + i * 60_000,
      tags: { device: 'phu-oc-01', kind: 'water_level', station: 'phu-oc', district: 'Phong Điền' },
      fields: { water_level: 2 + i / 100, seq: i },
    })
  }
  points.push({
    measurement: 'readings',
    ts: T0 + 5 * 60_000,
    tags: { device: 'aq-hue-01', kind: 'air_quality', station: 'hue-aq', district: 'Phú Xuân' },
    fields: { pm25: 41.5, aqi: 112, aqi_dominant: 'pm25, "fine"' },
  })
  points.push({
    measurement: 'detections',
    ts: T0 + 60_000,
    tags: { camera: 'cam-tt', zone: 'bridge', district: 'Phú Xuân' },
    fields: { car: 4, motorcycle: 11, congestion: 2, occupancy: 0.4 },
  })
  await store.write(points)
  await store.close()
  const alerts = openAlertsDb(dir.path)
  const as = sqliteAlertStore(alerts.db)
  await as.insert({
    id: 'a1',
    rule: 'water-level',
    kind: 'water_level',
    subject: 'kim-long',
    station: 'kim-long',
    district: 'Phú Xuân',
    severity: 'major',
    level: 2,
    value: 1.42,
    threshold: 1.4,
    unit: 'm',
    title: 'Kim Long: báo động II,\r\n"lũ"',
    late: false,
    at: new Date(T0 + 120_000).toISOString(),
    attentionSince: T0,
  })
  await as.insert({
    id: 'a2',
    rule: 'water-level',
    kind: 'water_level',
    subject: 'phu-oc',
    station: 'phu-oc',
    district: 'Phong Điền',
    severity: 'minor',
    level: 1,
    title: 'Phú Ốc',
    late: false,
    at: new Date(T0 + 180_000).toISOString(),
    attentionSince: T0,
  })
  await as.insert({
    id: 'a0',
    rule: 'water-level',
    kind: 'water_level',
    subject: 'old',
    station: 'kim-long',
    severity: 'minor',
    title: 'before the period',
    late: false,
    at: new Date(T0 - DAY).toISOString(),
    attentionSince: T0,
  })
  alerts.release()

  gw = await startQuietGateway(dir.path, ADMIN)
  base = `http://127.0.0.1:${gw.ports.http}`
  const made = await fetch(`${base}/api/v1/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'an', role: 'viewer', password: PASSWORD, districts: ['Phú Xuân'] }),
  })
  expect(made.status).toBe(201)
}, 120_000)
afterAll(async () => {
  await gw?.close()
  dir.remove()
})
const DAY = 86_400_000
const PERIOD = `from=${new Date(T0).toISOString()}&to=${new Date(T0 + DAY).toISOString()}`

describe('GET /exports/readings.csv', () => {
  it('answers RFC 4180 CSV with a header, one row per device and instant, oldest first', async () => {
    const res = await get(`/exports/readings.csv?${PERIOD}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8; header=present')
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="readings_20261001T000000Z_20261002T000000Z.csv"')
    const rows = parseCsv(res.text)
    expect(rows[0]).toEqual(['time', 'device', 'kind', 'station', 'district', 'aqi', 'aqi_dominant', 'pm25', 'seq', 'water_level'])
    const objs = csvObjects(res.text)
    expect(objs).toHaveLength(61)
    expect(objs.map((o) => Date.parse(o.time!))).toEqual(objs.map((o) => Date.parse(o.time!)).sort((a, b) => a - b))
    expect(objs[0]).toEqual({
      time: '2026-10-01T00:00:00.000Z',
      device: 'kim-long-01',
      kind: 'water_level',
      station: 'kim-long',
      district: 'Phú Xuân',
      aqi: '',
      aqi_dominant: '',
      pm25: '',
      seq: '0',
      water_level: '1',
    })
    // Quotes and commas inside a value survive the round trip (RFC 4180 §2 rules 6, 7).
    expect(objs.find((o) => o.device === 'aq-hue-01')).toMatchObject({ aqi: '112', pm25: '41.5', aqi_dominant: 'pm25, "fine"' })
  })

  it('filters by device, station and kind, and by period (from inclusive, to exclusive)', async () => {
    const dev = csvObjects((await get(`/exports/readings.csv?${PERIOD}&device=phu-oc-01`)).text)
    expect(dev).toHaveLength(30)
    expect(new Set(dev.map((o) => o.device))).toEqual(new Set(['phu-oc-01']))
    expect(csvObjects((await get(`/exports/readings.csv?${PERIOD}&station=hue-aq`)).text).map((o) => o.device)).toEqual(['aq-hue-01'])
    expect(csvObjects((await get(`/exports/readings.csv?${PERIOD}&kind=air_quality`)).text)).toHaveLength(1)
    const window = csvObjects((await get(`/exports/readings.csv?from=${T0 + 60_000}&to=${T0 + 180_000}&device=kim-long-01`)).text)
    expect(window.map((o) => o.seq)).toEqual(['1', '2'])
  })

  it("gives a scoped user only their districts' rows", async () => {
    const { cookie } = await logIn(base, 'an', PASSWORD)
    const rows = csvObjects((await get(`/exports/readings.csv?${PERIOD}`, { cookie })).text)
    expect(rows).toHaveLength(31)
    expect(new Set(rows.map((o) => o.district))).toEqual(new Set(['Phú Xuân']))
    const alerts = csvObjects((await get(`/exports/alerts.csv?${PERIOD}`, { cookie })).text)
    expect(alerts.map((a) => a.id)).toEqual(['a1'])
  })

  it('refuses a bad period with 400 saying which field', async () => {
    const bad = await get('/exports/readings.csv?from=yesterday')
    expect(bad.status).toBe(400)
    expect(bad.text).toMatch(/from/)
    const reversed = await get(`/exports/readings.csv?from=${T0 + 1000}&to=${T0}`)
    expect(reversed.status).toBe(400)
    expect(reversed.text).toMatch(/from must be before/)
  })
})

describe('GET /exports/detections.csv and /exports/alerts.csv', () => {
  it('exports detections with their counts', async () => {
    const rows = csvObjects((await get(`/exports/detections.csv?${PERIOD}&camera=cam-tt`)).text)
    expect(rows).toEqual([
      {
        time: '2026-10-01T00:01:00.000Z',
        camera: 'cam-tt',
        zone: 'bridge',
        station: '',
        district: 'Phú Xuân',
        car: '4',
        congestion: '2',
        motorcycle: '11',
        occupancy: '0.4',
      },
    ])
  })

  it('exports the alerts opened in the period, oldest first', async () => {
    const res = await get(`/exports/alerts.csv?${PERIOD}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="alerts_/)
    const rows = csvObjects(res.text)
    expect(rows.map((r) => r.id)).toEqual(['a1', 'a2'])
    expect(rows[0]).toMatchObject({
      kind: 'water_level',
      severity: 'major',
      level: '2',
      state: 'open',
      station: 'kim-long',
      value: '1.42',
      title: 'Kim Long: báo động II,\r\n"lũ"',
      late: 'false',
    })
    expect(csvObjects((await get(`/exports/alerts.csv?${PERIOD}&station=phu-oc`)).text).map((r) => r.id)).toEqual(['a2'])
  })
})

describe('iocgw export', () => {
  it('writes the same CSV to a file and says how many rows', async () => {
    const file = join(dir.path, 'out.csv')
    const out = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [
          BIN,
          'export',
          'readings',
          '--from',
          new Date(T0).toISOString(),
          '--to',
          new Date(T0 + DAY).toISOString(),
          '--device',
          'kim-long-01',
          '-o',
          file,
        ],
        { env: { ...process.env, IOC_API_URL: base, IOC_TOKEN: ADMIN } },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
      )
    })
    expect(out.trim()).toBe(`30 rows written to ${file}`)
    expect(readFileSync(file, 'utf8')).toBe((await get(`/exports/readings.csv?${PERIOD}&device=kim-long-01`)).text)
  })
})
