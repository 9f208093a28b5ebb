import mqtt from 'mqtt'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { sample } from '../support/samples.ts'
import { requireCommand, waitFor } from '../support/services.ts'
import { axeSerious, logInAt, screenshot, SIZES, useConsoleSuite, watchedPage } from './support.ts'

// The technician's camera flow in real Chromium against `iocgw start` as a real process with
// vision on (the real models, found by the project's lookup): a real photo published over MQTT
// gives a snapshot; on the camera page the technician draws a count zone with the mouse over part
// of the road, saves it (PUT /api/v1/cameras/:id/config, docs/api.md "Cameras"), the same photo is
// published again, and the page and the API count that zone only: the pipeline took the zone
// without a restart (same process throughout). axe-core on the grid and the camera page; the
// API's 400 shown word for word; screenshots at both sizes.

const haveChromium = requireCommand('chromium')
const ADMIN = `console-cam-admin-${Math.random().toString(36).slice(2)}-token`
const TECH = { name: 'le.van.ky.thuat', password: 'mat-khau-ky-thuat-2026' }
const CAM = 'cam-truong-tien-01'
const PHOTO = 'coco_000000001532.jpg' // 640x480: 4 cars and a truck (samples/expected.json)
// The zone drawn: the left part of the road, x 0.01-0.30, y 0.55-0.999 of the frame.
const ZONE: Array<[number, number]> = [
  [0.01, 0.55],
  [0.3, 0.55],
  [0.3, 0.999],
  [0.01, 0.999],
]

let camera: mqtt.MqttClient

interface Rec {
  ts: string
  objects: Array<{ class: string; score: number; box: number[] }>
  zones?: Array<{ zone: string; counts: Record<string, number> }>
}

const ui = useConsoleSuite({ name: 'cam', adminToken: ADMIN, enabled: haveChromium, setUp })
const { admin } = ui

/** Publishes the photo as a frame captured at `ts` and waits for its detection record. */
async function frame(ts: number): Promise<Rec> {
  await camera.publishAsync(`devices/${CAM}/frames/${ts}`, sample(PHOTO), { qos: 1 })
  let rec: Rec | undefined
  await waitFor(
    async () => {
      const page = await admin<{ items: Rec[] }>('GET', `/cameras/${CAM}/detections?from=${ts}&to=${ts + 1}`)
      rec = page.body.items?.[0]
      return rec !== undefined
    },
    90_000,
    250,
  )
  return rec!
}

const VEHICLES = new Set(['car', 'motorcycle', 'bus', 'truck', 'bicycle'])
const vehicles = (rec: Rec) => rec.objects.filter((o) => VEHICLES.has(o.class) && o.score >= 0.5)
const sum = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0)
/** Vehicles whose bottom-centre (docs/vision.md) lies in the drawn rectangle, the photo being 640x480. */
const inZone = (rec: Rec) =>
  vehicles(rec).filter((o) => {
    const x = (o.box[0]! + o.box[2]!) / 2 / 640
    const y = o.box[3]! / 480
    return x >= ZONE[0]![0] && x <= ZONE[1]![0] && y >= ZONE[0]![1] && y <= ZONE[2]![1]
  }).length

const logIn = (page: Page) => logInAt(page, `${ui.gw.apiUrl}/`, TECH, 'Bảng cảnh báo')

/** Clicks at a point of the drawing area given in frame coordinates (0..1). */
async function at(page: Page, x: number, y: number, how: 'click' | 'dblclick' = 'click'): Promise<void> {
  const box = (await page.locator('svg.zone-svg').boundingBox())!
  await page.mouse[how](box.x + x * box.width, box.y + y * box.height)
}

// The expected refusals: the API's 400 for the bad dry reference, and /auth/me before login.
const unexpected = (problems: string[]) => problems.filter((p) => !/(401 \(Unauthorized\)|400 \(Bad Request\))/.test(p))

/** The technician's account and the camera. */
async function setUp(): Promise<void> {
  expect((await admin('POST', '/users', { name: TECH.name, role: 'technician', password: TECH.password })).status).toBe(201)
  camera = await ui.device({ id: CAM, kind: 'camera', name: 'Cầu Trường Tiền', district: 'Phú Xuân' })
}

describe.skipIf(!haveChromium)('the technician and the cameras in chromium', () => {
  it('draws a count zone with the mouse, saves it, and the next frame is counted in that zone only, without a restart', async () => {
    const t1 = Date.now() - 120_000
    const first = await frame(t1)
    expect(first.zones?.map((z) => z.zone)).toEqual(['all'])
    const frameTotal = vehicles(first).length
    const expected = inZone(first)
    expect(expected).toBeGreaterThan(0)
    expect(expected).toBeLessThan(frameTotal)

    const context = await ui.browser.newContext({ viewport: SIZES.desk })
    const { page, problems } = await watchedPage(context)
    await logIn(page)
    await page.getByRole('navigation', { name: 'Trang' }).getByRole('link', { name: 'Camera', exact: true }).click()
    await page.getByRole('heading', { name: 'Camera giao thông' }).waitFor()
    const card = page.locator('li.camera-card', { hasText: 'Cầu Trường Tiền' })
    const snap = card.getByRole('img', { name: /Khung hình phân tích mới nhất của Cầu Trường Tiền/ })
    await snap.waitFor({ timeout: 30_000 })
    await expect
      .poll(() => snap.evaluate((img: { complete: boolean; naturalWidth: number }) => img.complete && img.naturalWidth), {
        timeout: 15_000,
      })
      .toBe(640)
    await card.locator('li[data-zone="all"]').waitFor({ timeout: 15_000 })
    expect(await card.textContent()).toContain('Ùn tắc mức')
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'cameras-1366x768')

    await card.getByRole('link', { name: 'Cầu Trường Tiền' }).click()
    await page.getByRole('heading', { name: 'Cầu Trường Tiền', level: 1 }).waitFor()
    expect(page.url()).toBe(`${ui.gw.apiUrl}/cameras/${CAM}`)
    await page.locator('.camera-side li[data-zone="all"]').waitFor({ timeout: 15_000 })
    await page.getByRole('heading', { name: 'Phương tiện trong một giờ qua' }).waitFor()
    expect(await page.locator('.camera-history tbody tr').count()).toBeGreaterThanOrEqual(1)

    // A refused configuration: the API's own sentence, word for word.
    await page.getByLabel('Ảnh tham chiếu lúc khô: đường dẫn trên gateway (không bắt buộc)').fill('dry/truong-tien.jpg')
    await page.getByRole('button', { name: 'Lưu cấu hình' }).click()
    const refused = await admin<{ message: string }>('PUT', `/cameras/${CAM}/config`, {
      tiling: { enabled: 'auto' },
      dryReference: 'dry/truong-tien.jpg',
    })
    expect(refused.status).toBe(400)
    await page
      .getByRole('alert')
      .filter({ hasText: `Máy chủ từ chối: ${refused.body.message}` })
      .waitFor()
    await page.getByLabel('Ảnh tham chiếu lúc khô: đường dẫn trên gateway (không bắt buộc)').fill('')

    // Draw: three clicks and a double-click on the fourth corner, which ends the polygon.
    await page.locator('svg.zone-svg').scrollIntoViewIfNeeded()
    await page.getByLabel('Mã vùng').fill('lan-trai')
    await page.getByLabel('Hướng (không bắt buộc)').fill('về Lê Lợi')
    for (const [x, y] of ZONE.slice(0, 3)) await at(page, x, y)
    expect(Number(await page.getByLabel('Đỉnh 3, x').inputValue())).toBeCloseTo(0.3, 2)
    await at(page, ZONE[3]![0], ZONE[3]![1], 'dblclick')
    await page.getByText('lan-trai: Đếm phương tiện, 4 đỉnh').waitFor()
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'camera-editor-1366x768')
    await page.getByRole('button', { name: 'Lưu cấu hình' }).click()
    await page.getByRole('status').filter({ hasText: 'Đã lưu' }).waitFor()

    const stored = await admin<{
      config: { zones: Array<{ id: string; kind: string; direction?: string; polygon: number[][] }>; tiling: unknown }
    }>('GET', `/cameras/${CAM}/config`)
    expect(stored.body.config.tiling).toEqual({ enabled: 'auto' })
    expect(stored.body.config.zones).toHaveLength(1)
    const saved = stored.body.config.zones[0]!
    expect(saved).toMatchObject({ id: 'lan-trai', kind: 'count', direction: 'về Lê Lợi' })
    saved.polygon.forEach((p, i) => {
      expect(p[0]).toBeCloseTo(ZONE[i]![0], 2)
      expect(p[1]).toBeCloseTo(ZONE[i]![1], 2)
    })

    // The same photo again, to the same running process: counted in the new zone only.
    const second = await frame(t1 + 60_000)
    expect(ui.gw.child.exitCode).toBeNull()
    expect(second.zones?.map((z) => z.zone)).toEqual(['lan-trai'])
    const zoneCount = sum(second.zones![0]!.counts)
    expect(zoneCount).toBe(expected)
    expect(zoneCount).toBeLessThan(vehicles(second).length)

    // The page follows without a reload.
    const side = page.locator('.camera-side')
    await side.locator('li[data-zone="lan-trai"]').waitFor({ timeout: 20_000 })
    expect(await side.locator('li[data-zone="all"]').count()).toBe(0)
    expect(await side.locator('li[data-zone="lan-trai"] .zone-total').textContent()).toBe(`${expected} phương tiện`)
    expect(await side.textContent()).toContain(`Tổng trong các vùng: ${expected} phương tiện`)
    await page.locator('.camera-history th', { hasText: 'lan-trai' }).waitFor()
    expect(await axeSerious(page)).toEqual([])
    await page.evaluate('window.scrollTo(0, 0)')
    await screenshot(page, 'camera-1366x768')
    await page.locator('.editor').scrollIntoViewIfNeeded()
    await screenshot(page, 'camera-editor-saved-1366x768')
    expect(unexpected(problems)).toEqual([])
    await context.close()
  }, 300_000)

  it('lays out the grid and the camera page on a phone, in English too', async () => {
    const context = await ui.browser.newContext({ viewport: SIZES.phone, isMobile: true, hasTouch: true, deviceScaleFactor: 2 })
    const { page, problems } = await watchedPage(context)
    await logIn(page)
    await page.goto(`${ui.gw.apiUrl}/cameras`)
    const card = page.locator('li.camera-card', { hasText: 'Cầu Trường Tiền' })
    await card.locator('li[data-zone]').first().waitFor({ timeout: 20_000 })
    const overflow = () => page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')
    expect(await overflow()).toBeLessThanOrEqual(0)
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'cameras-390x844')
    await card.getByRole('link', { name: 'Cầu Trường Tiền' }).click()
    await page.locator('.camera-side li[data-zone]').first().waitFor({ timeout: 20_000 })
    expect(await overflow()).toBeLessThanOrEqual(0)
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'camera-390x844')
    await page.locator('.editor').scrollIntoViewIfNeeded()
    await screenshot(page, 'camera-editor-390x844')
    // Without a mouse: corners typed as numbers, a flood zone closed with the button.
    await page.getByLabel('Mã vùng').fill('mat-duong')
    await page.getByLabel('Loại vùng').selectOption('flood')
    expect(await page.getByLabel('Hướng (không bắt buộc)').count()).toBe(0)
    const corners: Array<[number, number]> = [
      [0, 0.8],
      [1, 0.8],
      [1, 1],
    ]
    for (const [i, [x, y]] of corners.entries()) {
      await page.getByRole('button', { name: 'Thêm đỉnh' }).click()
      await page.getByLabel(`Đỉnh ${i + 1}, x`).fill(String(x))
      await page.getByLabel(`Đỉnh ${i + 1}, y`).fill(String(y))
      await page.getByLabel(`Đỉnh ${i + 1}, y`).press('Tab')
    }
    await page.getByRole('button', { name: 'Đóng vùng' }).click()
    await page.getByText('mat-duong: Ngập nước, 3 đỉnh').waitFor()
    expect(await page.locator('svg.zone-svg polygon.zone-flood').getAttribute('points')).toBe('0,0.8 1,0.8 1,1')
    await page.getByRole('button', { name: 'Xóa vùng mat-duong' }).click()
    expect(await page.getByText('mat-duong: Ngập nước, 3 đỉnh').count()).toBe(0)
    await page.getByRole('button', { name: 'Chuyển sang tiếng Anh' }).click()
    await page.getByRole('button', { name: 'Save configuration' }).waitFor()
    await page.getByRole('button', { name: 'Close polygon' }).waitFor()
    expect(await page.locator('.camera-side').textContent()).toMatch(/Congestion level \d: /)
    expect(unexpected(problems)).toEqual([])
    await context.close()
  }, 120_000)

  it('shows a viewer the counts but no zone editor', async () => {
    expect((await admin('POST', '/users', { name: 'nguyen.xem', role: 'viewer', password: 'mat-khau-chi-xem-2026' })).status).toBe(201)
    const context = await ui.browser.newContext({ viewport: SIZES.desk })
    const { page, problems } = await watchedPage(context)
    await page.goto(`${ui.gw.apiUrl}/cameras/${CAM}`)
    await page.getByLabel('Tên đăng nhập', { exact: true }).fill('nguyen.xem')
    await page.getByLabel('Mật khẩu', { exact: true }).fill('mat-khau-chi-xem-2026')
    await page.getByRole('button', { name: 'Đăng nhập', exact: true }).click()
    await page.locator('.camera-side li[data-zone="lan-trai"]').waitFor({ timeout: 30_000 })
    expect(await page.getByRole('button', { name: 'Lưu cấu hình' }).count()).toBe(0)
    expect(await page.locator('svg.zone-svg').count()).toBe(0)
    expect(unexpected(problems)).toEqual([])
    await context.close()
  }, 120_000)
})
