import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Value from 'typebox/value'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadStations } from '../../gateway/domain/stations.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { createNotifier, type Notifier } from '../../gateway/notify/notifier.ts'
import { ReportsSection, type ReportsConfig } from '../../gateway/reports/config.ts'
import { reportPdfRenderer } from '../../gateway/reports/pdf.ts'
import { localDayStart } from '../../gateway/reports/period.ts'
import { createReportService, type ReportService } from '../../gateway/reports/service.ts'
import { ReportSchema } from '../../gateway/reports/types.ts'
import { SqliteTimeSeriesStore } from '../../gateway/store/sqlite/store.ts'
import type { Point } from '../../gateway/store/types.ts'
import { bearer, login, makeApi, type TestApi } from '../api/support.ts'
import { startStandIns, standInConfig, type StandIns } from '../notify/standins.ts'
import { tempDir } from '../support/services.ts'

// GET /api/v1/reports (docs/api.md "Reports") and the daily report (docs/reports.md "Daily
// report"): roles, a scoped user's share, clear 400s for bad periods, CSV, and the scheduled file
// and announcement driven by an injected clock.

const H = 3_600_000
const DAY = localDayStart(Date.now()) - 2 * 86_400_000
const date = new Date(DAY + 7 * H).toISOString().slice(0, 10)
const SYSTEM = { type: 'system' as const, id: 'test' }
const logger = createLogger('silent')
const wl = (station: string, district: string, ts: number, v: number): Point => ({
  measurement: 'readings',
  tags: { device: `${station}-wl`, kind: 'water_level', station, district },
  fields: { water_level: v },
  ts,
})

let api: TestApi
let store: SqliteTimeSeriesStore
let reports: ReportService
let notifier: Notifier
let prov: StandIns
let clockNow = DAY
const ready: unknown[] = []
const dir = tempDir('iocgw-reports-api-')
const config = Value.Default(ReportsSection, {}) as ReportsConfig

beforeAll(async () => {
  store = new SqliteTimeSeriesStore({ dataDir: dir.path, logger, metrics: new Metrics({ defaults: false }) })
  await store.write([wl('kim-long', 'Huế', DAY + H, 1.2), wl('kim-long', 'Huế', DAY + 2 * H, 2.1), wl('phu-oc', 'Hương Trà', DAY + H, 0.4)])
  prov = await startStandIns()
  notifier = createNotifier({ dataDir: dir.path, logger, metrics: new Metrics({ defaults: false }), config: standInConfig(prov) })
  reports = createReportService({
    store,
    stations: loadStations('config/stations.yaml'),
    dataDir: dir.path,
    config,
    logger,
    now: () => clockNow,
    announce: (n) => notifier.announce(n),
    // The API (and its registry) is made next; the renderer reads it when a PDF is asked for.
    renderReportPdf: (report) => reportPdfRenderer({ registry: api.registry, store })(report),
    onDailyReport: (r) => ready.push(r),
  })
  api = await makeApi({ deps: { reports, notifier } })
  await api.registry.users.createUser({ name: 'mai', role: 'viewer', password: 'mật khẩu dài đủ 12', districts: ['Hương Trà'] }, SYSTEM)
}, 60_000)
afterAll(async () => {
  reports?.close()
  await notifier?.close()
  await prov?.close()
  await api?.close()
  await store?.close()
  dir.remove()
})

const get = (url: string, headers: Record<string, string> = bearer(api.tokens.viewer)) => api.app.inject({ method: 'GET', url, headers })

describe('GET /api/v1/reports', () => {
  it('answers a viewer the report of a local day, valid against the published schema, in vi and en', async () => {
    const res = await get(`/api/v1/reports?from=${date}`)
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(Value.Check(ReportSchema, body)).toBe(true)
    expect(body.period).toMatchObject({ from: new Date(DAY).toISOString(), to: new Date(DAY + 24 * H).toISOString(), hours: 24 })
    expect(body.water_levels.map((w: { name: string }) => w.name)).toEqual(['Kim Long', 'Phú Ốc'])
    expect(body.title).toMatch(/^Báo cáo tình hình \d{2}\/\d{2}\/\d{4}$/)
    const en = (await get(`/api/v1/reports?from=${date}&lang=en&station=kim-long`)).json()
    expect(en.title).toMatch(/^Situation report .* – Kim Long$/)
    expect(en.labels.levels.II).toBe('Alarm level II')
    expect(en.water_levels).toHaveLength(1)
    expect(
      (await get(`/api/v1/reports?from=${date}&district=Hương Trà`.replace(' ', '%20')))
        .json()
        .water_levels.map((w: { station: string }) => w.station),
    ).toEqual(['phu-oc'])
  })

  it('refuses bad periods with a 400 saying what is wrong, and callers without a token', async () => {
    const cases: Array<[string, RegExp]> = [
      ['from=2026-12-03&to=2026-12-01', /must be after from/],
      ['from=2025-01-01&to=2026-06-01', /at most 366 days/],
      ['from=03/12/2026', /neither a date .* nor an ISO 8601 time/],
      ['from=2026-02-30', /not a calendar date/],
      ['to=2026-12-03', /from/],
      [`from=${date}&lang=fr`, /lang/],
    ]
    for (const [q, message] of cases) {
      const res = await get(`/api/v1/reports?${q}`)
      expect(res.statusCode, q).toBe(400)
      expect(res.json().message, q).toMatch(message)
    }
    expect((await get(`/api/v1/reports?from=${date}`, {})).statusCode).toBe(401)
  })

  it("gives a district-scoped user only their district's stations", async () => {
    const mai = await login(api.app, 'mai', 'mật khẩu dài đủ 12')
    const body = (await get(`/api/v1/reports?from=${date}`, { cookie: mai.cookie })).json()
    expect(body.water_levels.map((w: { station: string }) => w.station)).toEqual(['phu-oc'])
    expect((await get(`/api/v1/reports?from=${date}&station=kim-long`, { cookie: mai.cookie })).json().water_levels).toEqual([])
  })

  it('answers format=csv as UTF-8 CSV with one row per figure', async () => {
    const res = await get(`/api/v1/reports?from=${date}&format=csv`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/csv/)
    const lines = res.body
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n')
    expect(lines[0]).toBe('section,subject,name,figure,value,at')
    expect(lines).toContain(`water_levels,kim-long,Kim Long,max,2.1,${new Date(DAY + 2 * H).toISOString()}`)
  })

  it('answers format=pdf, or Accept: application/pdf, with the PDF named after the local day', async () => {
    for (const [q, headers] of [
      [`from=${date}&format=pdf`, bearer(api.tokens.viewer)],
      [`from=${date}`, { ...bearer(api.tokens.viewer), accept: 'application/pdf' }],
    ] as const) {
      const res = await get(`/api/v1/reports?${q}`, headers)
      expect(res.statusCode, q).toBe(200)
      expect(res.headers['content-type']).toBe('application/pdf')
      expect(res.headers['content-disposition']).toBe(`inline; filename="report-${date}-vi.pdf"`)
      const file = join(dir.path, 'route.pdf')
      writeFileSync(file, res.rawPayload)
      expect(execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' })).toContain('Phú Ốc')
    }
  })
})

describe('subscriptions to the daily report', () => {
  it('POST /subscriptions accepts the kind report beside alert kinds, and refuses unknown kinds', async () => {
    const post = (kinds: string[]) =>
      api.app.inject({
        method: 'POST',
        url: '/api/v1/subscriptions',
        headers: bearer(api.tokens.admin),
        payload: { name: 'Văn phòng UBND', phone: '0905777888', role: 'viewer', kinds, channels: ['sms'] },
      })
    const ok = await post(['report', 'water_level'])
    expect(ok.statusCode).toBe(201)
    expect(ok.json().kinds).toEqual(['report', 'water_level'])
    expect((await post(['weekly'])).statusCode).toBe(400)
  })
})

describe('daily report', () => {
  it('at the configured local hour writes the day before to <dataDir>/reports and announces one line to report subscribers, once', async () => {
    const sub = await notifier.contacts.create({
      name: 'Lãnh đạo UBND',
      phone: '0905123456',
      role: 'viewer',
      kinds: ['report'],
      channels: ['sms'],
    })
    const duty = await notifier.contacts.create({ name: 'Trực ban', phone: '0905000111', role: 'officer', channels: ['sms'] }) // alerts only
    const file = join(dir.path, 'reports', `${date}.json`)
    clockNow = DAY + 24 * H + config.daily.hour * H - 60_000 // a minute before the hour, the next day
    expect(await reports.runDaily()).toBeNull()
    expect(existsSync(file)).toBe(false)
    clockNow += 60_000
    expect(await reports.runDaily()).toBe(file)
    const report = JSON.parse(readFileSync(file, 'utf8'))
    expect(Value.Check(ReportSchema, report)).toBe(true)
    expect(report.period.from).toBe(new Date(DAY).toISOString())
    expect(report.water_levels.find((w: { station: string }) => w.station === 'kim-long').max.value).toBe(2.1)
    // Webhooks' report.ready (docs/webhooks.md) is told once, with the day and the summary line.
    expect(ready).toEqual([{ date, file, summary: report.summary, period: report.period }])
    await notifier.drain()
    const rows = (await notifier.outbox()).filter((o) => o.key.startsWith(`report:${date}:`))
    const subscribed = notifier.contacts
      .all()
      .filter((c) => c.kinds?.includes('report'))
      .map((c) => c.id)
    expect(subscribed).toContain(sub.id)
    expect(rows.map((r) => r.contact_id).sort()).toEqual(subscribed.sort())
    expect(rows.map((r) => r.contact_id)).not.toContain(duty.id)
    expect(rows.every((r) => r.state === 'sent')).toBe(true)
    const sms = prov.received.find((r) => JSON.stringify(r).includes('Bao cao'))
    expect(JSON.stringify(sms)).toContain('Kim Long 2,10 m (Bao dong II)')
    clockNow += H
    expect(await reports.runDaily()).toBeNull() // done for that day
    expect(ready).toHaveLength(1)
    expect((await notifier.outbox()).filter((o) => o.key.startsWith('report:'))).toHaveLength(rows.length)
  })
})

describe('a data directory where no notifier ran', () => {
  it('gives a report with its alerts section and no notifications, rather than failing on the missing outbox, and lets go of alerts.db when closed', async () => {
    const bare = tempDir('iocgw-reports-bare-')
    const bareStore = new SqliteTimeSeriesStore({ dataDir: bare.path, logger, metrics: new Metrics({ defaults: false }) })
    try {
      await bareStore.write([wl('kim-long', 'Huế', DAY + H, 1.2)])
      const service = createReportService({
        store: bareStore,
        stations: loadStations('config/stations.yaml'),
        dataDir: bare.path,
        config,
        logger,
        renderReportPdf: () => Promise.reject(new Error('no PDF in this test')),
      })
      const report = await service.build({ from: DAY, to: DAY + 86_400_000, lang: 'en' }, null)
      expect(report.water_levels.find((w) => w.station === 'kim-long')?.max?.value).toBe(1.2)
      expect(report.alerts.opened).toBe(0)
      expect(existsSync(join(bare.path, 'alerts.db-wal'))).toBe(true)
      service.close()
      // Its references to alerts.db let go: the last connection closed checkpoints and removes the WAL.
      expect(existsSync(join(bare.path, 'alerts.db-wal'))).toBe(false)
    } finally {
      await bareStore.close()
      bare.remove()
    }
  })
})
