import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt from 'mqtt'
import type { Browser, Page, Route } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Report } from '../../gateway/reports/types.ts'
import { stopGateway, type GatewayProcess } from '../support/gateway-process.ts'
import { requireCommand, tempDir } from '../support/services.ts'
import { reportFixture } from '../reports/fixture.ts'
import { apiAs, axeSerious, launchChromium, logInAt, screenshot, SCREENSHOTS, SIZES, startConsoleGateway, watchedPage } from './support.ts'

// The Reports page (docs/console.md, "Reports") in real Chromium against `iocgw start`: a real
// MQTT gauge at Kim Long (config/stations.yaml) sends a day of readings, which the page draws as
// the water-level chart with the alarm levels; the report itself (GET /api/v1/reports) is served
// by the browser from the report fixture (test/reports/fixture.ts), because the route is not part
// of this gateway yet: every other request reaches the real gateway. The page is checked at
// 1366x768 and 390x844, with axe, and under print media, where only the report is left; the
// browser's own print to PDF is read back with pdftotext.

const haveChromium = requireCommand('chromium') && requireCommand('pdftotext')
const ADMIN = `console-reports-admin-${Math.random().toString(36).slice(2)}-token`
const LEADER = { name: 'tran.thi.mai', password: 'mat-khau-lanh-dao-2026' }

let dir: ReturnType<typeof tempDir>
let gw: GatewayProcess
let browser: Browser
let gauge: mqtt.MqttClient | undefined
/** The report requests the page made (their query strings). */
const asked: URLSearchParams[] = []

const admin = <T>(method: string, path: string, body?: unknown) => apiAs<T>(gw, ADMIN, method, path, body)

/** The fixture for the period and language asked. */
async function serveReport(route: Route): Promise<void> {
  const q = new URL(route.request().url()).searchParams
  asked.push(q)
  const lang = q.get('lang') === 'en' ? 'en' : 'vi'
  const report: Report = reportFixture(lang)
  const from = q.get('from')!
  const to = q.get('to')!
  report.period = { ...report.period, from, to, hours: (Date.parse(to) - Date.parse(from)) / 3_600_000 }
  if (q.get('station')) report.filters = { station: q.get('station')! }
  await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(report) })
}

async function open(page: Page): Promise<void> {
  await page.route(/\/api\/v1\/reports\?/, serveReport)
  await logInAt(page, `${gw.apiUrl}/reports`, LEADER, 'Báo cáo tình hình')
  await page.getByRole('heading', { name: /Báo cáo tình hình ngày/ }).waitFor({ timeout: 20_000 })
}

beforeAll(async () => {
  if (!haveChromium) return
  dir = tempDir('iocgw-console-reports-')
  gw = await startConsoleGateway(join(dir.path, 'data'), ADMIN)
  expect((await admin('POST', '/users', { name: LEADER.name, role: 'viewer', password: LEADER.password })).status).toBe(201)
  const dev = await admin<{ credentials: { username: string; password: string } }>('POST', '/devices', {
    id: 'kim-long-01',
    kind: 'water_level',
    name: 'Trạm Kim Long',
    station: 'kim-long',
    district: 'Phú Xuân',
    location: { lat: 16.4637, lon: 107.5606 },
  })
  expect(dev.status).toBe(201)
  gauge = await mqtt.connectAsync(gw.mqttUrl, {
    clientId: 'kim-long-01',
    username: dev.body.credentials.username,
    password: dev.body.credentials.password,
    reconnectPeriod: 0,
  })
  // Twenty hours rising from 1,0 m past level II (2,00 m) to 2,15 m, hourly.
  const now = Date.now()
  for (let h = 20; h >= 0; h--) {
    const payload = {
      ts: new Date(now - h * 3_600_000).toISOString(),
      seq: now - h,
      values: { water_level: Math.round((2.15 - h * 0.0575) * 100) / 100 },
    }
    await gauge.publishAsync('devices/kim-long-01/telemetry', JSON.stringify(payload), { qos: 1 })
  }
  browser = await launchChromium()
}, 180_000)

afterAll(async () => {
  await gauge?.endAsync().catch(() => {})
  await browser?.close()
  if (gw) await stopGateway(gw)
  dir?.remove()
})

const unexpected = (problems: string[]) => problems.filter((p) => !/401 \(Unauthorized\)/.test(p))
const noOverflow = (page: Page) => page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')

describe.skipIf(!haveChromium)('the reports page in chromium', () => {
  it("shows every section with its tables and charts, the level lines on the gauge's own readings, and a PDF link", async () => {
    const context = await browser.newContext({ viewport: SIZES.desk })
    const { page, problems } = await watchedPage(context)
    await open(page)
    const q = asked.at(-1)!
    expect(q.get('lang')).toBe('vi')
    // "Today": from Vietnam's midnight (17:00 UTC) to now.
    expect(q.get('from')).toMatch(/T17:00:00\.000Z$/)

    for (const h of ['Mực nước', 'Lượng mưa', 'Chất lượng không khí (VN_AQI)', 'Giao thông (camera)', 'Cảnh báo', 'Thông báo đã gửi']) {
      await expect(page.getByRole('heading', { name: h, exact: true }).count()).resolves.toBe(1)
    }
    const water = page.locator('#report-water')
    await expect(water.getByRole('rowheader', { name: 'Kim Long (sông Hương)' }).count()).resolves.toBe(1)
    expect(await water.locator('tbody tr').first().textContent()).toContain('2,15')
    expect(await water.textContent()).toContain('ở mức báo động II')
    expect(await page.locator('#report-alerts').textContent()).toContain('Kim Long ở mức báo động II')
    expect(await page.locator('#report-traffic').textContent()).toContain('58.930')
    // The water-level chart from the gauge's readings (GET /devices/kim-long-01/readings), with
    // Kim Long's three alarm levels (1,00 / 2,00 / 3,50 m) as lines.
    const chart = page.getByRole('img', { name: /^Mực nước tại Kim Long trong thời kỳ, với các mức báo động; cao nhất 2,15 m/ })
    await chart.waitFor({ timeout: 15_000 })
    expect(await chart.locator('.level-line').count()).toBe(3)
    expect(await chart.locator('path.series').getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+){4,}/)
    await expect(
      page.getByRole('img', { name: /^Số giờ theo dải VN_AQI: Trạm không khí Phường Phú Hội: Tốt 10 giờ/ }).count(),
    ).resolves.toBe(1)

    const pdf = page.getByRole('link', { name: 'Tải PDF' })
    const href = new URL((await pdf.getAttribute('href'))!, gw.apiUrl)
    expect(href.pathname).toBe('/api/v1/reports')
    expect(href.searchParams.get('format')).toBe('pdf')
    expect(href.searchParams.get('from')).toBe(q.get('from'))
    expect(href.searchParams.get('lang')).toBe('vi')

    expect(await axeSerious(page)).toEqual([])
    expect(await noOverflow(page)).toBe(0)
    await screenshot(page, 'reports-desk')
    expect(unexpected(problems)).toEqual([])
    await context.close()
  }, 120_000)

  it('asks for the period and station picked, refuses an end before the start, and follows the language switch', async () => {
    const context = await browser.newContext({ viewport: SIZES.desk })
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

    await page.getByLabel('Thời kỳ', { exact: true }).selectOption('custom')
    await page.getByLabel('Từ', { exact: true }).fill('2026-12-03T08:00')
    await page.getByLabel('Đến', { exact: true }).fill('2026-12-03T07:00')
    await page.getByRole('button', { name: 'Xem báo cáo' }).click()
    await page.getByRole('alert').filter({ hasText: 'Thời điểm kết thúc phải sau thời điểm bắt đầu.' }).waitFor()
    await page.getByLabel('Đến', { exact: true }).fill('2026-12-03T20:00')
    await page.getByRole('button', { name: 'Xem báo cáo' }).click()
    await expect.poll(() => asked.at(-1)!.get('from')).toBe('2026-12-03T01:00:00.000Z') // 08:00 in Huế

    await page.getByRole('button', { name: /^English/ }).click()
    await page.getByRole('heading', { name: /^Situation report 03\/12\/2026/ }).waitFor({ timeout: 15_000 })
    expect(asked.at(-1)!.get('lang')).toBe('en')
    expect(await page.locator('#report-water').textContent()).toContain('at alarm level II')
    await expect(page.getByRole('link', { name: 'Download PDF' }).count()).resolves.toBe(1)
    expect(unexpected(problems)).toEqual([])
    await context.close()
  }, 120_000)

  it('fits a phone and passes axe there', async () => {
    const context = await browser.newContext({ viewport: SIZES.phone, isMobile: true, hasTouch: true })
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
    const context = await browser.newContext({ viewport: SIZES.desk })
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

    const file = join(dir.path, 'printed.pdf')
    writeFileSync(file, await page.pdf({ format: 'A4', printBackground: true }))
    const text = execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' }).replace(/\s+/g, ' ')
    for (const s of [
      'Báo cáo tình hình ngày 03/12/2026 – Thừa Thiên Huế',
      'Kim Long (sông Hương)',
      'Phú Ốc',
      'Thượng Nhật',
      'Ngã tư Lê Lợi – Hùng Vương',
      'Kim Long ở mức báo động II',
    ]) {
      expect(text).toContain(s)
    }
    expect(text).not.toContain('Xem báo cáo')
    expect(text).not.toContain('Trung tâm điều hành IOC')
    await context.close()
  }, 120_000)
})
