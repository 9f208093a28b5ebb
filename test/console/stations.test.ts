import mqtt from 'mqtt'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { holdValues } from '../support/gateway-api.ts'
import { requireCommand, waitFor } from '../support/services.ts'
import { axeSerious, logInAt, screenshot, SIZES, useConsoleSuite, watchedPage } from './support.ts'

// The Stations pages (docs/console.md, "Stations") in real Chromium against `iocgw start`: two real
// MQTT gauges (Kim Long in Phú Xuân above its level II of 2.00 m, Phú Ốc in Quảng Điền below its
// level I of 1.50 m; config/stations.yaml) appear on the map and in the list with their level in
// words; a user scoped to Phú Xuân sees Kim Long only, and the API answers 404 to that session for
// the other gauge's readings (docs/api.md, "Authentication and roles"); the station page draws the
// series with the alarm levels as labelled lines and the alert as a labelled mark.

const haveChromium = requireCommand('chromium')
const ADMIN = `console-stations-admin-${Math.random().toString(36).slice(2)}-token`
const OFFICER = { name: 'le.van.an', password: 'mat-khau-truc-ban-2026' }
const SCOPED = { name: 'nguyen.thi.hoa', password: 'mat-khau-phu-xuan-2026' }

const ui = useConsoleSuite({ name: 'stations', adminToken: ADMIN, enabled: haveChromium, setUp })
const { admin } = ui

/** Registers a gauge at `location` and connects it over MQTT. */
async function gauge(
  id: string,
  name: string,
  station: string,
  district: string,
  location: { lat: number; lon: number },
): Promise<mqtt.MqttClient> {
  return ui.device({ id, kind: 'water_level', name, station, district, location })
}

const logIn = (page: Page, who: { name: string; password: string }) => logInAt(page, `${ui.gw.apiUrl}/stations`, who, 'Trạm và thiết bị')

const unexpected = (problems: string[]) => problems.filter((p) => !/401 \(Unauthorized\)|404 \(Not Found\)/.test(p))
const noOverflow = (page: Page) => page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')

/** The users, the two gauges and their readings, and Kim Long's level II alert. */
async function setUp(): Promise<void> {
  expect((await admin('POST', '/users', { name: OFFICER.name, role: 'officer', password: OFFICER.password })).status).toBe(201)
  expect(
    (await admin('POST', '/users', { name: SCOPED.name, role: 'officer', password: SCOPED.password, districts: ['Phú Xuân'] })).status,
  ).toBe(201)
  // Device locations of these test gauges; Kim Long's is the one of docs/api.md's example.
  const kimLong = await gauge('kim-long-01', 'Trạm Kim Long', 'kim-long', 'Phú Xuân', { lat: 16.4637, lon: 107.5606 })
  const phuOc = await gauge('phu-oc-01', 'Trạm Phú Ốc', 'phu-oc', 'Quảng Điền', { lat: 16.542, lon: 107.487 })
  // The last 20 hours of Kim Long rising towards level II, hourly, then the held level above it.
  const start = Date.now()
  for (let h = 20; h >= 1; h--) {
    const payload = {
      ts: new Date(start - h * 3_600_000).toISOString(),
      seq: start - 1000 - h,
      values: { water_level: 1.9 - h * 0.065, battery: 4.0 },
    }
    await kimLong.publishAsync('devices/kim-long-01/telemetry', JSON.stringify(payload), { qos: 1 })
  }
  await holdValues(kimLong, 'kim-long-01', { water_level: 2.15, battery: 3.9 })
  await holdValues(phuOc, 'phu-oc-01', { water_level: 1.2, battery: 3.7 })
  // The level II alert is opened by the rules engine from these readings.
  await waitFor(async () => (await admin<{ items: unknown[] }>('GET', '/alerts?station=kim-long')).body.items.length > 0, 30_000, 200)
}

describe.skipIf(!haveChromium)('the stations pages in chromium', () => {
  it('shows an unscoped officer both gauges on the map and in the list, each with its level in words', async () => {
    const context = await ui.browser.newContext({ viewport: SIZES.desk })
    const { page, problems } = await watchedPage(context)
    // No tile server configured (docs/console.md, "Map tiles"): nothing leaves the gateway's origin.
    const elsewhere: string[] = []
    page.on('request', (r) => {
      if (!r.url().startsWith(`${ui.gw.apiUrl}/`)) elsewhere.push(r.url())
    })
    await logIn(page, OFFICER)
    const kim = page.locator('tr[data-row="kim-long-01"]')
    const phu = page.locator('tr[data-row="phu-oc-01"]')
    await kim.waitFor({ timeout: 15_000 })
    expect(await kim.textContent()).toContain('Báo động cấp II')
    expect(await kim.textContent()).toContain('2,15 m')
    expect(await kim.textContent()).toContain('Phú Xuân')
    expect(await kim.textContent()).toContain('3,9 V')
    expect(await kim.textContent()).toContain('Đang hoạt động')
    expect(await phu.textContent()).toContain('Dưới báo động I')
    expect(await phu.textContent()).toContain('Quảng Điền')
    // The map: a named link per placed station, its level written next to it.
    const map = page.getByRole('group', { name: 'Bản đồ trạm' })
    expect(await map.getByRole('link', { name: 'Kim Long: Báo động cấp II' }).count()).toBe(1)
    expect(await map.getByRole('link', { name: 'Phú Ốc: Dưới báo động I' }).count()).toBe(1)
    expect(await page.getByRole('navigation', { name: 'Trang' }).getByRole('link', { name: 'Trạm' }).getAttribute('aria-current')).toBe(
      'page',
    )
    expect(await page.locator('svg.station-map image').count()).toBe(0)
    expect(await page.locator('.map-box figcaption').textContent()).toContain('không dùng bản đồ nền')
    expect(elsewhere).toEqual([])
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'stations-1366x768')
    // In English the levels read in English, in the list and on the map.
    await page.getByRole('button', { name: 'Chuyển sang tiếng Anh' }).click()
    await page.getByRole('heading', { name: 'Stations and devices' }).waitFor()
    expect(await kim.textContent()).toContain('Alarm level II')
    expect(
      await page.getByRole('group', { name: 'Map of stations' }).getByRole('link', { name: 'Phú Ốc: Below alarm level I' }).count(),
    ).toBe(1)
    await page.getByRole('button', { name: 'Switch to Vietnamese' }).click()

    // The station page: the series, the alarm levels as labelled lines, the alert as a mark.
    // An SVG link is hit on its painted shapes only: click the marker's dot.
    await map.getByRole('link', { name: 'Kim Long: Báo động cấp II' }).locator('circle').click()
    await page.getByRole('heading', { name: 'Kim Long', exact: true }).waitFor()
    const chart = page.getByRole('group', { name: 'Mực nước của Trạm Kim Long, 24 giờ' })
    await chart.waitFor({ timeout: 15_000 })
    for (const name of ['Báo động cấp I: 1 m', 'Báo động cấp II: 2 m', 'Báo động cấp III: 3,5 m']) {
      expect(await chart.getByRole('img', { name }).count(), name).toBe(1)
    }
    // One point per 5-minute bucket holding readings: the 20 hourly ones and the held level.
    const d = (await chart.locator('path.series').getAttribute('d')) ?? ''
    expect(d.split('L').length).toBeGreaterThanOrEqual(21)
    expect(await chart.getByRole('img', { name: /^Cảnh báo Nghiêm trọng, / }).count()).toBeGreaterThanOrEqual(1)
    expect(page.url()).toBe(`${ui.gw.apiUrl}/stations/kim-long`)
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'station-1366x768')
    await page.getByRole('button', { name: '7 ngày' }).click()
    await page.getByRole('group', { name: 'Mực nước của Trạm Kim Long, 7 ngày' }).waitFor({ timeout: 15_000 })
    expect(await page.getByRole('button', { name: '7 ngày' }).getAttribute('aria-pressed')).toBe('true')
    expect(
      await page
        .getByRole('group', { name: /7 ngày/ })
        .getByRole('img', { name: 'Báo động cấp II: 2 m' })
        .count(),
    ).toBe(1)
    // Reloaded from the address bar, the client route still answers the console.
    await page.reload()
    await page.getByRole('group', { name: /^Mực nước của Trạm Kim Long/ }).waitFor({ timeout: 15_000 })
    expect(elsewhere).toEqual([])
    expect(unexpected(problems)).toEqual([])
    await context.close()
  })

  it('shows a district-scoped officer only that district, on a phone; the API refuses the other gauge to that session', async () => {
    const context = await ui.browser.newContext({ viewport: SIZES.phone, isMobile: true, hasTouch: true, deviceScaleFactor: 2 })
    const { page, problems } = await watchedPage(context)
    await logIn(page, SCOPED)
    await page.locator('tr[data-row="kim-long-01"]').waitFor({ timeout: 15_000 })
    expect(await page.locator('tr[data-row="phu-oc-01"]').count()).toBe(0)
    expect(await page.locator('table.stations-table').textContent()).not.toContain('Phú Ốc')
    const map = page.getByRole('group', { name: 'Bản đồ trạm' })
    expect(await map.getByRole('link').count()).toBe(1)
    expect(await map.getByRole('link', { name: 'Kim Long: Báo động cấp II' }).count()).toBe(1)
    expect(await noOverflow(page)).toBeLessThanOrEqual(0)
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'stations-390x844')

    // The same session's cookie through the API: the other district's gauge does not exist for it.
    const api = await page.evaluate(async () => {
      const get = async (p: string) => {
        const r = await fetch(p)
        return { status: r.status, body: (await r.json()) as unknown }
      }
      return {
        other: await get('/api/v1/devices/phu-oc-01/readings?metric=water_level'),
        own: await get('/api/v1/devices/kim-long-01/readings?metric=water_level'),
        stations: await get('/api/v1/stations'),
      }
    })
    expect(api.other.status).toBe(404)
    expect(api.own.status).toBe(200)
    expect(api.stations.status).toBe(200)
    expect((api.stations.body as { items: Array<{ id: string }> }).items.map((s) => s.id)).toEqual(['kim-long'])

    await page.goto(`${ui.gw.apiUrl}/stations/phu-oc`)
    await page.getByText('Không tìm thấy trạm hay thiết bị này.').waitFor({ timeout: 15_000 })
    await page.goto(`${ui.gw.apiUrl}/stations/kim-long`)
    const chart = page.getByRole('group', { name: 'Mực nước của Trạm Kim Long, 24 giờ' })
    await chart.waitFor({ timeout: 15_000 })
    expect(await chart.getByRole('img', { name: 'Báo động cấp II: 2 m' }).count()).toBe(1)
    expect(await noOverflow(page)).toBeLessThanOrEqual(0)
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'station-390x844')
    expect(unexpected(problems)).toEqual([])
    await context.close()
  })

  it('answers GET /api/v1/stations with the Decision 05/2020 levels, named, and places from the devices', async () => {
    const res = await admin<{
      legal_basis: string
      items: Array<{
        id: string
        district: string | null
        location: unknown
        devices: string[]
        levels: Array<{ level: string; value: number | null; name_vi: string; to_confirm: boolean }>
      }>
    }>('GET', '/stations')
    expect(res.status).toBe(200)
    expect(res.body.legal_basis).toBe('Decision 05/2020/QĐ-TTg')
    const kim = res.body.items.find((s) => s.id === 'kim-long')!
    expect(kim).toMatchObject({ district: 'Phú Xuân', location: { lat: 16.4637, lon: 107.5606 }, devices: ['kim-long-01'] })
    expect(kim.levels.map((l) => [l.level, l.value])).toEqual([
      ['I', 1],
      ['II', 2],
      ['III', 3.5],
    ])
    expect(kim.levels[1]!.name_vi).toMatch(/^Báo động II/)
    const phu = res.body.items.find((s) => s.id === 'phu-oc')!
    expect(phu.levels[0]).toMatchObject({ level: 'I', value: 1.5, to_confirm: true })
    // A station without devices and without a place in the file has none.
    expect(res.body.items.find((s) => s.id === 'truoi')).toMatchObject({ district: null, location: null, devices: [] })
  })
})
