import mqtt from 'mqtt'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { holdValues } from '../support/gateway-api.ts'
import { requireCommand } from '../support/services.ts'
import { axeSerious, logInAt, screenshot, SIZES, useConsoleSuite, watchedPage } from './support.ts'

// The officer's core flow in real Chromium against `iocgw start` as a real process: log in, see a
// flood alert appear live when a real MQTT gauge crosses Kim Long's level II (2.00 m,
// config/stations.yaml; payload of docs/mqtt.md), hear and see the banner, acknowledge it with a
// note, and find the officer's name as the acknowledger through the API. Plus: a device name made
// of HTML renders as text; a device new to the board keeps its name when an older device list
// answers late; axe-core finds nothing serious on the board and the history page.

const haveChromium = requireCommand('chromium')
const ADMIN = `console-e2e-admin-${Math.random().toString(36).slice(2)}-token`
const OFFICER = { name: 'tran.thi.binh', password: 'mat-khau-truc-ban-2026' }
const XSS_NAME = '<img src=x onerror=alert(1)>'

const ui = useConsoleSuite({
  name: 'e2e',
  adminToken: ADMIN,
  enabled: haveChromium,
  // The officer's account, made by an admin through the API (docs/api.md, "Users").
  setUp: async () =>
    expect((await admin('POST', '/users', { name: OFFICER.name, role: 'officer', password: OFFICER.password })).status).toBe(201),
})
const { admin } = ui

/** Registers a gauge and connects it over MQTT with the credentials the API handed out. */
async function gauge(id: string, name: string, station: string, district: string): Promise<mqtt.MqttClient> {
  return ui.device({ id, kind: 'water_level', name, station, district })
}

async function logIn(page: Page): Promise<void> {
  await logInAt(page, `${ui.gw.apiUrl}/`, OFFICER, 'Bảng cảnh báo')
  await page.getByText('Trực tiếp', { exact: true }).waitFor({ timeout: 30_000 })
}

/** The browser's 401 for GET /auth/me before login is expected; nothing else may reach the console. */
const unexpected = (problems: string[]) => problems.filter((p) => !/401 \(Unauthorized\)/.test(p))

describe.skipIf(!haveChromium)('the officer in chromium', () => {
  it('logs in, sees Kim Long cross level II live with banner and chime, acknowledges with a note; the API names the officer', async () => {
    const context = await ui.browser.newContext({ viewport: SIZES.desk })
    const { page, problems } = await watchedPage(context)
    // Count the chime's tones: the console makes its sound with WebAudio oscillators.
    await page.addInitScript({
      content: `window.__tones = 0; const start = OscillatorNode.prototype.start;
        OscillatorNode.prototype.start = function (...a) { window.__tones++; return start.apply(this, a) }`,
    })
    await logIn(page)
    await page.getByText('Không có cảnh báo nào đang mở.').waitFor({ timeout: 15_000 })
    // Marks this document: it must still be the same one when the alert shows (no reload).
    await page.evaluate('window.__sameDocument = true')

    const kimLong = await gauge('kim-long-01', 'Trạm Kim Long', 'kim-long', 'Phú Xuân')
    await holdValues(kimLong, 'kim-long-01', { water_level: 2.15 })

    const row = page.locator('li.alert', { hasText: 'Kim Long' })
    await row.waitFor({ timeout: 30_000 })
    expect(await page.evaluate('window.__sameDocument')).toBe(true)
    expect(await row.textContent()).toContain('Nghiêm trọng')
    expect(await row.textContent()).toContain('Báo động cấp II')
    expect(await row.textContent()).toContain('Thiết bị Trạm Kim Long (kim-long-01)')
    const banner = page.locator('.banner', { hasText: 'Kim Long' })
    await banner.waitFor({ timeout: 10_000 })
    expect(await banner.textContent()).toContain('Cảnh báo mới')
    expect(await page.getByRole('alert').filter({ hasText: 'Kim Long' }).count()).toBe(1)
    await expect.poll(() => page.evaluate('window.__tones'), { timeout: 10_000 }).toBeGreaterThan(0)
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'board-banner-1366x768')

    const alertId = await row.getAttribute('data-alert-id')
    expect(alertId).toBeTruthy()
    await row.getByRole('button', { name: 'Xác nhận', exact: true }).click()
    const dialog = page.getByRole('dialog', { name: 'Xác nhận cảnh báo' })
    await dialog.waitFor()
    expect(await axeSerious(page)).toEqual([])
    const note = 'Đã báo UBND phường Kim Long, đội cứu hộ đang tới'
    await dialog.getByLabel('Ghi chú (không bắt buộc)').fill(note)
    await screenshot(page, 'ack-dialog-1366x768')
    await dialog.getByRole('button', { name: 'Xác nhận', exact: true }).click()
    await row.getByText('Đã xác nhận', { exact: true }).waitFor({ timeout: 15_000 })
    expect(await row.textContent()).toContain(`Xác nhận bởi ${OFFICER.name}`)
    expect(await row.textContent()).toContain(note)
    expect(await row.getByRole('button', { name: 'Xác nhận', exact: true }).count()).toBe(0)
    expect(await row.getByRole('button', { name: 'Đã xử lý', exact: true }).count()).toBe(1)

    const fromApi = await admin<{ state: string; acknowledged?: { by: string; note?: string } }>('GET', `/alerts/${alertId}`)
    expect(fromApi.status).toBe(200)
    expect(fromApi.body.state).toBe('acknowledged')
    expect(fromApi.body.acknowledged).toMatchObject({ by: OFFICER.name, note })

    await page.locator('.banner').getByRole('button', { name: 'Đóng thông báo' }).click()
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'board-1366x768')

    // The history: opened by the system, acknowledged by the officer with the note.
    await row.getByRole('link', { name: 'Lịch sử' }).click()
    await page.getByRole('heading', { name: 'Lịch sử cảnh báo' }).waitFor()
    const table = page.locator('table.history')
    await table.waitFor()
    expect(await table.textContent()).toContain(note)
    expect(await table.locator('tbody tr').count()).toBeGreaterThanOrEqual(2)
    expect(page.url()).toBe(`${ui.gw.apiUrl}/alerts/${alertId}`)
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'history-1366x768')
    // A client route reloaded straight from the address bar still works (the gateway's fallback).
    await page.reload()
    await page.locator('table.history').waitFor({ timeout: 15_000 })

    // In English the same buttons say Acknowledge and Resolve.
    await page.getByRole('button', { name: 'Chuyển sang tiếng Anh' }).click()
    await page.getByRole('link', { name: 'Back to the alerts board' }).click()
    const rowEn = page.locator('li.alert', { hasText: 'Kim Long' })
    await rowEn.getByRole('button', { name: 'Resolve', exact: true }).waitFor()
    await page.getByRole('button', { name: 'Switch to Vietnamese' }).click()

    // Logging out ends the session: the board is gone and the API refuses the old cookie.
    await page.getByRole('button', { name: 'Đăng xuất' }).click()
    await page.getByLabel('Tên đăng nhập', { exact: true }).waitFor()
    const after = await page.evaluate(async () => (await fetch('/api/v1/alerts')).status)
    expect(after).toBe(401)
    expect(unexpected(problems.filter((p) => !/\/api\/v1\/alerts/.test(p)))).toEqual([])
    await context.close()
  })

  it('keeps the name of a device new to the board when an older device list answers after the one its alert asked for', async () => {
    const context = await ui.browser.newContext({ viewport: SIZES.desk })
    const { page, problems } = await watchedPage(context)
    // The device lists the board asks for while it opens (before the gauge exists) are answered
    // only after the one the gauge's alert makes it ask for: late, and older.
    const late: Array<() => Promise<void>> = []
    let holding = true
    await page.route('**/api/v1/devices?state=active*', async (route) => {
      if (!holding) return route.continue()
      const response = await route.fetch()
      late.push(() => route.fulfill({ response }))
    })
    await logIn(page)
    holding = false
    const thuongNhat = await gauge('thuong-nhat-01', 'Trạm Thượng Nhật', 'thuong-nhat', 'Nam Đông')
    await holdValues(thuongNhat, 'thuong-nhat-01', { water_level: 61.4 })
    const named = page.locator('li.alert', { hasText: 'Thiết bị Trạm Thượng Nhật (thuong-nhat-01)' })
    await named.waitFor({ timeout: 30_000 })
    expect(late.length).toBeGreaterThan(0)
    for (const answer of late) await answer()
    // A moment for the page to take the late answers in, then the name must still be there.
    await page.evaluate(() => new Promise((r) => setTimeout(r, 300)))
    expect(await named.count()).toBe(1)
    expect(unexpected(problems)).toEqual([])
    await context.close()
  })

  it('renders a device named as HTML as text, on a phone, with no script run', async () => {
    const context = await ui.browser.newContext({ viewport: SIZES.phone, isMobile: true, hasTouch: true, deviceScaleFactor: 2 })
    const { page, problems } = await watchedPage(context)
    await logIn(page)
    const hostile = await gauge('phu-oc-01', XSS_NAME, 'phu-oc', 'Quảng Điền')
    await holdValues(hostile, 'phu-oc-01', { water_level: 3.2 })
    const row = page.locator('li.alert', { hasText: 'Phú Ốc' })
    await row.waitFor({ timeout: 30_000 })
    // The row comes with the alert event; the device's name follows once the device list is read
    // again (the device is new to the page).
    await row.filter({ hasText: `Thiết bị ${XSS_NAME} (phu-oc-01)` }).waitFor({ timeout: 30_000 })
    expect(await row.textContent()).toContain(`Thiết bị ${XSS_NAME} (phu-oc-01)`)
    expect(await page.locator('img[src="x"]').count()).toBe(0)
    expect(problems.filter((p) => p.startsWith('dialog'))).toEqual([])
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')
    expect(overflow).toBeLessThanOrEqual(0)
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'board-banner-390x844')
    await page.locator('.banner').getByRole('button', { name: 'Đóng thông báo' }).first().click()
    await screenshot(page, 'board-390x844')

    // The newest alert of a severity comes first; the folded filters narrow the list.
    expect((await page.locator('li.alert h3').first().textContent()) ?? '').toContain('Phú Ốc')
    await page.getByText('Bộ lọc', { exact: true }).click()
    await page.getByLabel('Trạm', { exact: true }).selectOption('phu-oc')
    await expect.poll(() => page.locator('li.alert').count()).toBe(1)
    await page.getByLabel('Mức độ', { exact: true }).selectOption('critical')
    await page.getByText('Không có cảnh báo nào khớp bộ lọc.').waitFor()
    await page.getByRole('button', { name: 'Xóa bộ lọc' }).click()
    await expect.poll(() => page.locator('li.alert').count()).toBeGreaterThanOrEqual(1)

    await row.getByRole('link', { name: 'Lịch sử' }).click()
    await page.locator('table.history').waitFor()
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'history-390x844')

    // The session ends elsewhere (logout in another tab): the next request answers 401 and the
    // page comes back to the login form saying why.
    const other = await context.newPage()
    await other.goto(`${ui.gw.apiUrl}/`)
    await other.getByRole('button', { name: 'Đăng xuất' }).click()
    await other.getByLabel('Tên đăng nhập', { exact: true }).waitFor()
    try {
      await page.getByRole('button', { name: 'Đã xử lý', exact: true }).first().click({ timeout: 5000 })
      await page.getByRole('dialog').getByRole('button', { name: 'Đã xử lý', exact: true }).click({ timeout: 5000 })
    } catch {
      // The page already saw the session end (its event stream was refused) and shows the form.
    }
    await page.getByText('Phiên làm việc đã hết hạn. Hãy đăng nhập lại.').waitFor({ timeout: 15_000 })
    expect(await page.getByLabel('Tên đăng nhập', { exact: true }).count()).toBe(1)
    expect(unexpected(problems)).toEqual([])
    await context.close()
  })
})
