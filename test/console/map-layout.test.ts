import { createServer, type Server } from 'node:http'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt from 'mqtt'
import type { Page } from 'playwright-core'
import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { ROOT } from '../support/gateway-process.ts'
import { freePort, requireCommand, waitFor } from '../support/services.ts'
import { axeSerious, logInAt, screenshot, SIZES, useConsoleSuite, watchedPage } from './support.ts'

// The console with a map tile server configured (docs/console.md, "Map tiles") against `iocgw
// start`: a local HTTP server stands in for the tile server and serves PNG tiles; in Chromium the
// Stations map asks it for the tiles of its view and draws them under the stations, the CSP lets
// images come from that origin only. The Devices list shows each device's battery, last seen and
// connection from its newest reading. Every page at 1366x768 and 390x844: nothing cut off or
// wider than the screen, the page menu on one line; screenshots to test-output/screenshots.

const haveChromium = requireCommand('chromium')
const ADMIN = `console-map-admin-${Math.random().toString(36).slice(2)}-token`
const TECH = { name: 'tran.van.ky', password: 'mat-khau-ky-thuat-2026' }
const TILE_RGB = [46, 139, 87] as const

let tiles: Server
let tileBase = ''
const tileRequests: string[] = []
let alertId = ''

const ui = useConsoleSuite({
  name: 'map',
  adminToken: ADMIN,
  enabled: haveChromium,
  env: startTiles,
  setUp,
  tearDown: () => new Promise<void>((resolve) => (tiles ? tiles.close(() => resolve()) : resolve())),
})
const { admin } = ui
const logIn = (page: Page, url: string, heading: string) => logInAt(page, `${ui.gw.apiUrl}${url}`, TECH, heading)
const overflow = (page: Page) =>
  page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth') as Promise<number>
const unexpected = (problems: string[]) => problems.filter((p) => !/401 \(Unauthorized\)|404 \(Not Found\)/.test(p))

async function device(id: string, kind: string, name: string, extra: Record<string, unknown>): Promise<mqtt.MqttClient> {
  return ui.device({ id, kind, name, ...extra })
}

/** The tile server, and the gateway's config naming it; answers the gateway's environment. */
async function startTiles(dir: string): Promise<Record<string, string>> {
  const png = await sharp({
    create: { width: 256, height: 256, channels: 3, background: { r: TILE_RGB[0], g: TILE_RGB[1], b: TILE_RGB[2] } },
  })
    .png()
    .toBuffer()
  tiles = createServer((req, res) => {
    tileRequests.push(req.url ?? '')
    if (!/^\/tiles\/\d+\/\d+\/\d+\.png$/.test(req.url ?? '')) return void res.writeHead(404).end()
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length }).end(png)
  })
  const port = await freePort()
  await new Promise<void>((resolve) => tiles.listen(port, '127.0.0.1', resolve))
  tileBase = `http://127.0.0.1:${port}`
  // The project's own config file plus the console section, as an operator would write it.
  const config = parse(readFileSync(join(ROOT, 'config', 'gateway.yaml'), 'utf8')) as Record<string, unknown>
  config.console = { mapTileUrl: `${tileBase}/tiles/{z}/{x}/{y}.png`, mapAttribution: '© Bản đồ thử nghiệm' }
  writeFileSync(join(dir, 'gateway.yaml'), stringify(config))
  return { IOC_CONFIG: join(dir, 'gateway.yaml') }
}

/** The technician's account; the gauges with their status and readings, a camera; Kim Long's alert. */
async function setUp(): Promise<void> {
  expect((await admin('POST', '/users', { name: TECH.name, role: 'technician', password: TECH.password })).status).toBe(201)
  const kim = await device('kim-long-01', 'water_level', 'Trạm Kim Long', {
    station: 'kim-long',
    district: 'Phú Xuân',
    location: { lat: 16.4637, lon: 107.5606 },
  })
  const phu = await device('phu-oc-01', 'water_level', 'Trạm Phú Ốc', {
    station: 'phu-oc',
    district: 'Quảng Điền',
    location: { lat: 16.542, lon: 107.487 },
  })
  await device('cam-truong-tien-03', 'camera', 'Cầu Trường Tiền', { district: 'Phú Xuân' })
  // Status on connect (docs/mqtt.md, "devices/{id}/status"), then readings with the battery
  // voltage; Kim Long held above its level II (2.00 m) for the rule's 300 s opens an alert.
  const now = Date.now()
  for (const [c, id, level, battery] of [
    [kim, 'kim-long-01', 2.15, 12.4],
    [phu, 'phu-oc-01', 1.2, 11.8],
  ] as const) {
    await c.publishAsync(`devices/${id}/status`, JSON.stringify({ online: true, fw: 'iocgw-edge/0.1.0' }), { qos: 1, retain: true })
    for (let i = 6; i >= 0; i--) {
      const payload = { ts: new Date(now - i * 60_000).toISOString(), seq: now - i, values: { water_level: level, battery } }
      await c.publishAsync(`devices/${id}/telemetry`, JSON.stringify(payload), { qos: 1 })
    }
  }
  await waitFor(
    async () => {
      const list = await admin<{ items: Array<{ id: string }> }>('GET', '/alerts?station=kim-long')
      alertId = list.body.items[0]?.id ?? ''
      return alertId !== ''
    },
    30_000,
    200,
  )
}

describe.skipIf(!haveChromium)('the console with a tile server, and its layout', () => {
  it('draws the configured tiles under the stations, allowed by the CSP for that origin only', async () => {
    const page0 = await fetch(`${ui.gw.apiUrl}/stations`)
    const imgSrc = (page0.headers.get('content-security-policy') ?? '').split('; ').find((d) => d.startsWith('img-src'))
    expect(imgSrc).toBe(`img-src 'self' ${tileBase}`)
    expect(await (await fetch(`${ui.gw.apiUrl}/console.json`)).json()).toEqual({
      map: { tileUrl: `${tileBase}/tiles/{z}/{x}/{y}.png`, attribution: '© Bản đồ thử nghiệm', maxZoom: 18 },
    })

    const context = await ui.browser.newContext({ viewport: SIZES.desk })
    const { page, problems } = await watchedPage(context)
    const loaded: string[] = []
    page.on('requestfinished', (r) => {
      if (r.url().startsWith(tileBase)) loaded.push(r.url())
    })
    await logIn(page, '/stations', 'Trạm và thiết bị')
    const images = page.locator('svg.station-map g.map-tiles image')
    await images.first().waitFor({ state: 'attached', timeout: 15_000 })
    const hrefs = await images.evaluateAll((els) => els.map((e) => e.getAttribute('href') ?? ''))
    expect(hrefs.length).toBeGreaterThanOrEqual(2)
    for (const h of hrefs) expect(h).toMatch(new RegExp(`^${tileBase}/tiles/\\d+/\\d+/\\d+\\.png$`))
    // Every tile of the view was asked for and answered.
    await waitFor(() => hrefs.every((h) => loaded.includes(h)), 15_000)
    expect(new Set(hrefs.map((h) => new URL(h).pathname))).toEqual(new Set(tileRequests.filter((r) => hrefs.some((h) => h.endsWith(r)))))
    // Both stations are on the map, over the tiles: the map's corner shows the tile's colour.
    const map = page.getByRole('group', { name: 'Bản đồ trạm' })
    expect(await map.getByRole('link', { name: 'Kim Long: Báo động cấp II' }).count()).toBe(1)
    expect(await map.getByRole('link', { name: 'Phú Ốc: Dưới báo động I' }).count()).toBe(1)
    const { data, info } = await sharp(await page.locator('svg.station-map').screenshot())
      .raw()
      .toBuffer({ resolveWithObject: true })
    const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3)]
    expect(at(3, 3)).toEqual([...TILE_RGB])
    expect(at(info.width - 4, info.height - 4)).toEqual([...TILE_RGB])
    expect(await page.locator('.map-box figcaption').textContent()).toContain('Bản đồ nền: © Bản đồ thử nghiệm')
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'stations-tiles-1366x768')
    expect(unexpected(problems)).toEqual([])
    await context.close()
  })

  it("lists each device's battery, last seen and connection from its newest reading", async () => {
    const context = await ui.browser.newContext({ viewport: SIZES.desk })
    const { page, problems } = await watchedPage(context)
    await logIn(page, '/devices', 'Thiết bị')
    const kim = page.locator('tr[data-device-id="kim-long-01"]')
    await expect.poll(() => kim.locator('td[data-label="Pin"]').textContent(), { timeout: 15_000 }).toBe('12,4 V')
    expect(await page.locator('tr[data-device-id="phu-oc-01"] td[data-label="Pin"]').textContent()).toBe('11,8 V')
    expect(await kim.locator('td[data-label="Kết nối"]').textContent()).toBe('Đang hoạt động')
    expect(await kim.locator('td[data-label="Lần cuối"]').textContent()).toMatch(/\d{2}:\d{2}/)
    expect(await page.locator('tr[data-device-id="cam-truong-tien-03"] td[data-label="Pin"]').textContent()).toBe('')
    expect(await axeSerious(page)).toEqual([])
    await page.getByRole('button', { name: 'Chuyển sang tiếng Anh' }).click()
    await expect.poll(() => kim.locator('td[data-label="Battery"]').textContent()).toBe('12.4 V')
    expect(await kim.locator('td[data-label="Connection"]').textContent()).toBe('Online')
    await page.getByRole('button', { name: 'Switch to Vietnamese' }).click()
    expect(unexpected(problems)).toEqual([])
    await context.close()
  })

  for (const [size, viewport] of Object.entries(SIZES)) {
    it(`lays out every page at ${viewport.width}x${viewport.height}: nothing cut off, the page menu on one line`, async () => {
      const phone = size === 'phone'
      const context = await ui.browser.newContext({ viewport, ...(phone ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}) })
      const { page, problems } = await watchedPage(context)
      await logIn(page, '/', 'Bảng cảnh báo')
      const pages: Array<[string, string, string]> = [
        ['board', '/', '.alert'],
        ['alert', `/alerts/${alertId}`, 'table.history'],
        ['stations', '/stations', 'tr[data-row="kim-long-01"]'],
        ['station', '/stations/kim-long', 'svg.station-chart'],
        ['cameras', '/cameras', 'li.camera-card'],
        ['camera', '/cameras/cam-truong-tien-03', '#history-h'],
        ['devices', '/devices', 'tr[data-device-id="kim-long-01"]'],
      ]
      const name = `${viewport.width}x${viewport.height}`
      for (const [label, url, ready] of pages) {
        await page.goto(`${ui.gw.apiUrl}${url}`)
        await page.locator(ready).first().waitFor({ timeout: 20_000 })
        expect(await overflow(page), `${label}: page wider than the screen`).toBeLessThanOrEqual(0)
        // At a desk no table is cut off: none scrolls sideways inside its box.
        if (!phone) {
          const cut = await page.locator('.table-wrap').evaluateAll((els) => els.map((e) => e.scrollWidth - e.clientWidth))
          expect(
            cut.filter((c) => c > 0),
            `${label}: a table cut off at 1366 px`,
          ).toEqual([])
        }
        // The page menu: one line, each page a named link.
        const nav = page.getByRole('navigation', { name: 'Trang' })
        const tops = await nav.getByRole('link').evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().top)))
        // A technician's pages: alerts, stations, cameras, devices, reports (no Notifications, no Webhooks).
        expect(tops, `${label}: page menu`).toHaveLength(5)
        expect(new Set(tops).size, `${label}: page menu on one line`).toBe(1)
        await screenshot(page, `layout-${label}-${name}`)
      }
      // The stations list: at a desk every column inside its box; on a phone it may scroll in it.
      await page.goto(`${ui.gw.apiUrl}/stations`)
      const wrap = page.locator('.stations-page .table-wrap')
      await page.locator('tr[data-row="kim-long-01"]').waitFor()
      if (!phone) {
        const cut = await wrap.evaluate((el) => el.scrollWidth - el.clientWidth)
        expect(cut, 'stations list cut off at 1366 px').toBeLessThanOrEqual(0)
        const last = (await page.locator('.stations-table thead th').last().boundingBox())!
        const box = (await wrap.boundingBox())!
        expect(last.x + last.width).toBeLessThanOrEqual(box.x + box.width + 1)
      }
      expect(await axeSerious(page)).toEqual([])
      expect(unexpected(problems)).toEqual([])
      await context.close()
    }, 180_000)
  }
})
