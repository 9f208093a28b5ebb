import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt from 'mqtt'
import type { BrowserContext, Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { type NewDevice } from '../support/gateway-api.ts'
import { requireCommand, waitFor } from '../support/services.ts'
import { axeSerious, logInAt, screenshot, SCREENSHOTS, SIZES, useConsoleSuite, watchedPage } from './support.ts'

// The Reports page (docs/console.md, "Reports") in real Chromium against `iocgw start`, whose
// report route (GET /api/v1/reports, docs/api.md "Reports", docs/reports.md) builds the report from
// what real devices sent over MQTT (docs/mqtt.md) before the page opens: the Kim Long gauge
// (config/stations.yaml) rising hourly through alarm levels I and II to 2,15 m, which opens the
// water-level alert by itself (config/rules.yaml); a rain gauge at Phú Ốc and an air-quality
// station at Kim Long, registered through the API. No camera is registered, so the traffic section
// shows its empty-state text. The requests the page makes are read, not intercepted. The page is
// checked at 1366x768 and 390x844, with axe, and under print media, where only the report is left;
// the browser's own print to PDF and the gateway's PDF are read back with pdftotext.

const haveChromium = requireCommand('chromium') && requireCommand('pdftotext')
const ADMIN = `console-reports-admin-${Math.random().toString(36).slice(2)}-token`
const LEADER = { name: 'tran.thi.mai', password: 'mat-khau-lanh-dao-2026' }
const MIN = 60_000
const H = 3_600_000
/** Phú Ốc's rain gauge: six readings of 10 min in the last hour (mm), 12,4 mm in all. */
const RAIN_MM = [1.2, 2.6, 3.8, 2.4, 1.6, 0.8]
const HUE_OFFSET = 7 * H // Asia/Ho_Chi_Minh, no daylight saving

const ui = useConsoleSuite({ name: 'reports', adminToken: ADMIN, enabled: haveChromium, setUp })
const { admin } = ui
/** The report requests the page made (their query strings). */
const asked: URLSearchParams[] = []

/** Registers a device through the API and connects it to the broker with its credentials. */
async function device(body: NewDevice): Promise<{ id: string; client: mqtt.MqttClient }> {
  return { id: body.id, client: await ui.device(body) }
}

async function send(d: { id: string; client: mqtt.MqttClient }, ts: number, seq: number, values: Record<string, number>): Promise<void> {
  const payload = { ts: new Date(ts).toISOString(), seq, values }
  await d.client.publishAsync(`devices/${d.id}/telemetry`, JSON.stringify(payload), { qos: 1 })
}

/** "2026-12-04T09:30" in Huế time, as a datetime-local input takes it. */
const hueInput = (t: number) => new Date(t + HUE_OFFSET).toISOString().slice(0, 16)

/**
 * Logs in on the Reports page and answers the query of the report it opened on ("today" in Huế
 * time, docs/console.md "Reports"). In the first hours after Huế midnight today holds too little
 * of the readings (the air station's go back 150 min, the gauge's 20 h), so the page is then asked
 * for the last 24 hours, as a leader would at that hour.
 */
async function open(page: Page): Promise<URLSearchParams> {
  page.on('request', (r) => {
    const url = new URL(r.url())
    if (url.pathname === '/api/v1/reports' && url.searchParams.get('format') !== 'pdf') asked.push(url.searchParams)
  })
  await logInAt(page, `${ui.gw.apiUrl}/reports`, LEADER, 'Báo cáo tình hình')
  await page.locator('#report-water').waitFor({ timeout: 30_000 })
  const opened = asked.at(-1)!
  if ((Date.now() + HUE_OFFSET) % (24 * H) < 3 * H) {
    const to = Math.ceil(Date.now() / MIN) * MIN
    await page.getByLabel('Thời kỳ', { exact: true }).selectOption('custom')
    await page.getByLabel('Từ', { exact: true }).fill(hueInput(to - 24 * H))
    await page.getByLabel('Đến', { exact: true }).fill(hueInput(to))
    await page.getByRole('button', { name: 'Xem báo cáo' }).click()
    await expect.poll(() => asked.at(-1)!.get('to')).toBe(new Date(to).toISOString())
    await expect.poll(() => page.locator('#report-rain').textContent(), { timeout: 15_000 }).toContain('12,4')
  }
  return opened
}

/** The leader's account; a gauge, a rain gauge and an air-quality station with their readings, all stored. */
async function setUp(): Promise<void> {
  expect((await admin('POST', '/users', { name: LEADER.name, role: 'viewer', password: LEADER.password })).status).toBe(201)
  const gauge = await device({
    id: 'kim-long-01',
    kind: 'water_level',
    name: 'Trạm Kim Long',
    station: 'kim-long',
    district: 'Phú Xuân',
    location: { lat: 16.4637, lon: 107.5606 },
  })
  const rain = await device({ id: 'phu-oc-rain-01', kind: 'rain_gauge', name: 'Đo mưa Phú Ốc', station: 'phu-oc', district: 'Hương Trà' })
  const air = await device({
    id: 'kim-long-aq-01',
    kind: 'air_quality',
    name: 'Không khí Kim Long',
    station: 'kim-long',
    district: 'Phú Xuân',
  })
  // Twenty hours rising from 1,0 m past level II (2,00 m) to 2,15 m, hourly.
  const now = Date.now()
  for (let h = 20; h >= 0; h--) {
    await send(gauge, now - h * H, now - h, { water_level: Math.round((2.15 - h * 0.0575) * 100) / 100 })
  }
  // Rain over the last hour, ending 5 min ago (so inside any period that ends now).
  for (const [i, mm] of RAIN_MM.entries())
    await send(rain, now - 5 * MIN - (RAIN_MM.length - 1 - i) * 10 * MIN, i + 1, { rainfall: mm, interval_s: 600 })
  // Clean air (PM2.5 18, PM10 29 µg/m³: VN_AQI "good") in three different clock hours.
  for (const [i, ago] of [150, 90, 30].entries()) await send(air, now - ago * MIN, i + 1, { pm25: 18, pm10: 29 })
  // Every device's last reading is stored before any page asks (each sent its readings in order, QoS 1).
  const last = async () => {
    const r = await admin<{ items: Array<{ device: string; values: Record<string, number> }> }>('GET', '/readings/latest')
    return Object.fromEntries(r.body.items.map((i) => [i.device, i.values]))
  }
  await waitFor(async () => {
    const v = await last()
    return v['kim-long-01']?.water_level === 2.15 && v['phu-oc-rain-01']?.rainfall === 0.8 && v['kim-long-aq-01']?.pm25 === 18
  }, 30_000)
}

/** The session cookie of the context, for fetching the PDF link as the page would. */
async function cookieHeader(context: BrowserContext): Promise<string> {
  return (await context.cookies(ui.gw.apiUrl)).map((c) => `${c.name}=${c.value}`).join('; ')
}

const unexpected = (problems: string[]) => problems.filter((p) => !/401 \(Unauthorized\)/.test(p))
const noOverflow = (page: Page) => page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')

describe.skipIf(!haveChromium)('the reports page in chromium', () => {
  it("shows every section with its tables and charts, the level lines on the gauge's own readings, and a PDF link", async () => {
    const context = await ui.browser.newContext({ viewport: SIZES.desk })
    const { page, problems } = await watchedPage(context)
    const opened = await open(page)
    const q = asked.at(-1)!
    expect(q.get('lang')).toBe('vi')
    // "Today": from Vietnam's midnight (17:00 UTC) to now.
    expect(opened.get('from')).toMatch(/T17:00:00\.000Z$/)

    for (const h of ['Mực nước', 'Lượng mưa', 'Chất lượng không khí (VN_AQI)', 'Giao thông (camera)', 'Cảnh báo', 'Thông báo đã gửi']) {
      await expect(page.getByRole('heading', { name: h, exact: true }).count()).resolves.toBe(1)
    }
    const water = page.locator('#report-water')
    const kimLong = water.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'Kim Long (sông Hương)' }) })
    await expect(kimLong.count()).resolves.toBe(1)
    expect(await kimLong.textContent()).toContain('2,15')
    expect(await kimLong.textContent()).toContain('ở mức báo động II')
    // Phú Ốc's gauge: the six readings sent, 12,4 mm in all.
    expect(await page.locator('#report-rain').textContent()).toContain('Phú Ốc')
    expect(await page.locator('#report-rain').textContent()).toContain('12,4')
    // The alert the rules opened from Kim Long's readings.
    await expect(page.locator('#report-alerts').textContent()).resolves.toMatch(
      /Kim Long \(sông Hương\): mực nước [\d,]+ m, vượt báo động II/,
    )
    expect(await page.locator('#report-traffic').textContent()).toContain('Không có camera trong phạm vi này.')
    // The water-level chart from the gauge's readings (GET /devices/kim-long-01/readings), with
    // Kim Long's three alarm levels (1,00 / 2,00 / 3,50 m) as lines.
    const chart = page.getByRole('img', { name: /^Mực nước tại Kim Long trong thời kỳ, với các mức báo động; cao nhất 2,15 m/ })
    await chart.waitFor({ timeout: 15_000 })
    expect(await chart.locator('.level-line').count()).toBe(3)
    expect(await chart.locator('path.series').getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+){2,}/)
    // Clean air at the Kim Long station: every hour with an index is "good".
    await expect(page.getByRole('img', { name: /^Số giờ theo dải VN_AQI: Kim Long: Tốt \d+ giờ/ }).count()).resolves.toBe(1)

    const pdf = page.getByRole('link', { name: 'Tải PDF' })
    const href = new URL((await pdf.getAttribute('href'))!, ui.gw.apiUrl)
    expect(href.pathname).toBe('/api/v1/reports')
    expect(href.searchParams.get('format')).toBe('pdf')
    expect(href.searchParams.get('from')).toBe(q.get('from'))
    expect(href.searchParams.get('lang')).toBe('vi')
    // The gateway's PDF, fetched with the page's session.
    const res = await fetch(href, { headers: { cookie: await cookieHeader(context) } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/pdf/)
    const file = join(ui.dir, 'report.pdf')
    writeFileSync(file, Buffer.from(await res.arrayBuffer()))
    expect(execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' })).toContain('Kim Long')

    expect(await axeSerious(page)).toEqual([])
    expect(await noOverflow(page)).toBe(0)
    await screenshot(page, 'reports-desk')
    expect(unexpected(problems)).toEqual([])
    await context.close()
  }, 120_000)

  it('asks for the period and station picked, refuses an end before the start, and follows the language switch', async () => {
    const context = await ui.browser.newContext({ viewport: SIZES.desk })
    const { page, problems } = await watchedPage(context)
    await open(page)
    await page.getByLabel('Thời kỳ', { exact: true }).selectOption('yesterday')
    await page.getByLabel('Trạm', { exact: true }).selectOption({ label: 'Phú Ốc' })
    const before = asked.length
    await page.getByRole('button', { name: 'Xem báo cáo' }).click()
    await expect.poll(() => asked.length).toBe(before + 1)
    const q = asked.at(-1)!
    expect(q.get('station')).toBe('phu-oc')
    expect(Date.parse(q.get('to')!) - Date.parse(q.get('from')!)).toBe(86_400_000)
    expect(q.get('to')).toMatch(/T17:00:00\.000Z$/)

    // A custom period: the last three hours, to the minute, in Huế time.
    const to = Math.floor(Date.now() / MIN) * MIN
    const from = to - 3 * H
    await page.getByLabel('Thời kỳ', { exact: true }).selectOption('custom')
    await page.getByLabel('Từ', { exact: true }).fill(hueInput(from))
    await page.getByLabel('Đến', { exact: true }).fill(hueInput(from - H))
    await page.getByRole('button', { name: 'Xem báo cáo' }).click()
    await page.getByRole('alert').filter({ hasText: 'Thời điểm kết thúc phải sau thời điểm bắt đầu.' }).waitFor()
    await page.getByLabel('Đến', { exact: true }).fill(hueInput(to))
    await page.getByRole('button', { name: 'Xem báo cáo' }).click()
    await expect.poll(() => asked.at(-1)!.get('from')).toBe(new Date(from).toISOString())
    expect(asked.at(-1)!.get('to')).toBe(new Date(to).toISOString())
    expect(asked.at(-1)!.get('station')).toBe('phu-oc')
    await expect.poll(() => page.locator('#report-rain').textContent(), { timeout: 15_000 }).toContain('12,4')

    await page.getByRole('button', { name: /^English/ }).click()
    await page.getByRole('heading', { name: /^Situation report .* – Phú Ốc$/ }).waitFor({ timeout: 15_000 })
    expect(asked.at(-1)!.get('lang')).toBe('en')
    await expect.poll(() => page.locator('#report-rain').textContent(), { timeout: 15_000 }).toContain('12.4')
    await expect(page.getByRole('link', { name: 'Download PDF' }).count()).resolves.toBe(1)
    expect(unexpected(problems)).toEqual([])
    await context.close()
  }, 120_000)

  it('fits a phone and passes axe there', async () => {
    const context = await ui.browser.newContext({ viewport: SIZES.phone, isMobile: true, hasTouch: true })
    const { page, problems } = await watchedPage(context)
    await open(page)
    expect(await axeSerious(page)).toEqual([])
    expect(await noOverflow(page)).toBe(0)
    await screenshot(page, 'reports-phone')
    await page.locator('#report-water').scrollIntoViewIfNeeded()
    await screenshot(page, 'reports-phone-water')
    expect(unexpected(problems)).toEqual([])
    await context.close()
  }, 120_000)

  it("prints the report alone: no header, navigation or form, and the browser's PDF holds the names", async () => {
    const context = await ui.browser.newContext({ viewport: SIZES.desk })
    const { page } = await watchedPage(context)
    await open(page)
    await page.getByRole('img', { name: /^Mực nước tại Kim Long/ }).waitFor({ timeout: 15_000 })
    await page.emulateMedia({ media: 'print' })
    expect(await page.locator('header.top').isVisible()).toBe(false)
    expect(await page.locator('nav.pages').isVisible()).toBe(false)
    expect(await page.locator('.report-form').isVisible()).toBe(false)
    expect(await page.getByRole('link', { name: 'Tải PDF' }).isVisible()).toBe(false)
    expect(await page.locator('article.report').isVisible()).toBe(true)
    await page.screenshot({ path: join(SCREENSHOTS, 'reports-print.png'), fullPage: true })

    const file = join(ui.dir, 'printed.pdf')
    writeFileSync(file, await page.pdf({ format: 'A4', printBackground: true }))
    const text = execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' }).replace(/\s+/g, ' ')
    for (const s of ['Báo cáo tình hình', 'Kim Long (sông Hương)', 'Phú Ốc', 'vượt báo động II', 'Không có camera trong phạm vi này.']) {
      expect(text).toContain(s)
    }
    expect(text).not.toContain('Xem báo cáo')
    expect(text).not.toContain('Trung tâm điều hành IOC')
    await context.close()
  }, 120_000)
})
