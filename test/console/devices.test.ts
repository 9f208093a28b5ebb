import jsqr from 'jsqr'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt from 'mqtt'
import sharp from 'sharp'
import type { Page } from 'playwright-core'
import { afterAll, describe, expect, it } from 'vitest'
import { loadEdgeRunConfig } from '../../edge/config.ts'
import { requireCommand } from '../support/services.ts'
import { axeSerious, logInAt, screenshot, SIZES, useConsoleSuite, watchedPage } from './support.ts'

// The technician's Devices page (docs/console.md, "Devices") in real Chromium against `iocgw start`
// as a real process: register a camera through the form, read its QR code back off the screen and
// decode it, download the edge config and load it with the edge agent's own loader, log in over
// MQTT with those credentials, see a refused message in the reject log, rotate the secret (the old
// one is then refused), disable, remove; a device named as HTML renders as text; axe-core finds
// nothing serious; officers see the list without any action.

const haveChromium = requireCommand('chromium')
const ADMIN = `console-devices-admin-${Math.random().toString(36).slice(2)}-token`
const TECH = { name: 'le.van.cuong', password: 'mat-khau-ky-thuat-2026' }
const OFFICER = { name: 'pham.thi.dung', password: 'mat-khau-truc-ban-2026' }
const XSS_NAME = '<img src=x onerror=alert(1)>'
const CAMERA = 'cam-cau-truong-tien'

interface Credentials {
  username: string
  password: string
  mqtt_url: string
}

const ui = useConsoleSuite({ name: 'devices', adminToken: ADMIN, enabled: haveChromium, setUp })
const { admin } = ui
/** The devices' own logins (mqttLogin), ended at once after the suite. */
const clients: mqtt.MqttClient[] = []
afterAll(async () => {
  for (const c of clients) await c.endAsync(true).catch(() => {})
})

const logIn = (page: Page, user: { name: string; password: string }) => logInAt(page, `${ui.gw.apiUrl}/devices`, user, 'Thiết bị')

/** The QR code as it is drawn on screen, decoded from its pixels (no access to its source text). */
async function readQr(page: Page): Promise<string> {
  const png = await page.locator('svg.qr').screenshot()
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true })
  const code = jsqr.default(new Uint8ClampedArray(data.buffer, data.byteOffset, data.length), info.width, info.height)
  expect(code, 'a QR code is readable in the screenshot').not.toBeNull()
  return code!.data
}

/** Resolves when the broker accepts the login, rejects with its refusal otherwise. */
async function mqttLogin(c: Credentials, clientId = c.username): Promise<mqtt.MqttClient> {
  const client = await mqtt.connectAsync(c.mqtt_url, {
    clientId,
    username: c.username,
    password: c.password,
    reconnectPeriod: 0,
    connectTimeout: 15_000,
  })
  clients.push(client)
  return client
}

/** Registers through the form; answers what the API answered the browser. */
async function register(
  page: Page,
  fields: { kind: string; id?: string; name: string; station?: string; district?: string; lat?: string; lon?: string },
) {
  const form = page.locator('details.device-form')
  if (!(await form.evaluate((d) => (d as unknown as { open: boolean }).open))) await form.locator('summary').click()
  await page.getByLabel('Loại thiết bị', { exact: true }).selectOption(fields.kind)
  if (fields.id) await page.getByLabel('Mã thiết bị (không bắt buộc)').fill(fields.id)
  await page.getByLabel('Tên', { exact: true }).fill(fields.name)
  if (fields.station) await page.getByLabel('Trạm', { exact: true }).fill(fields.station)
  if (fields.district) await page.getByLabel('Quận/huyện', { exact: true }).fill(fields.district)
  if (fields.lat) await page.getByLabel('Vĩ độ', { exact: true }).fill(fields.lat)
  if (fields.lon) await page.getByLabel('Kinh độ', { exact: true }).fill(fields.lon)
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/devices') && r.request().method() === 'POST')
  await page.getByRole('button', { name: 'Đăng ký', exact: true }).click()
  const res = await answer
  expect(res.status()).toBe(201)
  return (await res.json()) as { device: { id: string }; credentials: Credentials }
}

/** The browser's 401 for GET /auth/me before login is expected; nothing else may reach the console. */
const unexpected = (problems: string[]) => problems.filter((p) => !/401 \(Unauthorized\)/.test(p))

/** The technician's and the officer's accounts. */
async function setUp(): Promise<void> {
  expect((await admin('POST', '/users', { name: TECH.name, role: 'technician', password: TECH.password })).status).toBe(201)
  expect((await admin('POST', '/users', { name: OFFICER.name, role: 'officer', password: OFFICER.password })).status).toBe(201)
}

describe.skipIf(!haveChromium)('the technician in chromium', () => {
  it('registers a camera, reads the QR code and the edge config back, logs in over MQTT, sees a reject, rotates, disables, removes', async () => {
    const context = await ui.browser.newContext({ viewport: SIZES.desk, acceptDownloads: true })
    const { page, problems } = await watchedPage(context)
    await logIn(page, TECH)
    expect(await page.getByRole('navigation', { name: 'Trang' }).getByRole('link', { name: 'Thiết bị' }).getAttribute('aria-current')).toBe(
      'page',
    )
    await page.getByText('Chưa có thiết bị nào.').waitFor()
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'devices-form-1366x768')

    const made = await register(page, {
      kind: 'camera',
      id: CAMERA,
      name: 'Camera cầu Trường Tiền',
      station: 'truong-tien',
      district: 'Thuận Hóa',
      lat: '16,4676',
      lon: '107,5905',
    })
    expect(made.device.id).toBe(CAMERA)
    const cred = made.credentials
    expect(cred.username).toBe(CAMERA)
    expect(cred.mqtt_url).toBe(ui.gw.mqttUrl)
    const panel = page.locator('section.credentials')
    await panel.getByRole('heading', { name: `Thông tin đăng nhập của Camera cầu Trường Tiền (${CAMERA})` }).waitFor()
    expect(await panel.locator('[data-cred="password"]').textContent()).toBe(cred.password)
    expect(await panel.getByRole('img', { name: `Mã QR chứa địa chỉ MQTT, tên đăng nhập và mật khẩu của ${CAMERA}` }).count()).toBe(1)

    // The QR code holds exactly the documented JSON (docs/console.md): what the API answered.
    const text = await readQr(page)
    expect(JSON.parse(text)).toEqual({ mqtt_url: cred.mqtt_url, username: cred.username, password: cred.password })
    expect(Object.keys(JSON.parse(text) as object)).toEqual(['mqtt_url', 'username', 'password'])

    // The downloaded file is an edge config the agent's own loader accepts, with these credentials.
    const download = page.waitForEvent('download')
    await panel.getByRole('link', { name: 'Tải tệp cấu hình edge' }).click()
    const file = await download
    expect(file.suggestedFilename()).toBe(`${CAMERA}.edge.yaml`)
    const saved = join(ui.dir, file.suggestedFilename())
    await file.saveAs(saved)
    const loaded = await loadEdgeRunConfig(saved, {})
    expect(loaded.kind).toBe('camera')
    if (loaded.kind !== 'camera') throw new Error('not a camera config')
    expect(loaded.base.device.id).toBe(CAMERA)
    expect(loaded.base.password).toBe(cred.password)
    expect(loaded.base.mqtt.url).toBe(cred.mqtt_url)
    expect(readFileSync(saved, 'utf8')).toContain('type: camera')

    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'devices-credentials-1366x768')

    // The credentials work: the broker takes them under the device's own client id, and a
    // malformed reading from it shows up in the reject log with the reason.
    const cam = await mqttLogin(cred)
    await cam.publishAsync(`devices/${CAMERA}/telemetry`, '{"ts": not json', { qos: 1 })
    await panel.getByRole('button', { name: 'Đã lưu, đóng lại' }).click()
    expect(await page.locator('section.credentials').count()).toBe(0)

    const row = page.locator(`tr[data-device-id="${CAMERA}"]`)
    await row.waitFor()
    expect(await row.textContent()).toContain('Camera cầu Trường Tiền')
    expect(await row.textContent()).toContain('16,4676; 107,5905')
    expect(await row.textContent()).toContain('Hoạt động')
    const label = `Camera cầu Trường Tiền (${CAMERA})`
    await page.getByRole('button', { name: `Tin bị từ chối: ${label}` }).click()
    const rejects = page.getByRole('dialog', { name: `Tin bị từ chối của ${label}` })
    await rejects.locator('table.rejects').waitFor({ timeout: 15_000 })
    expect(await rejects.textContent()).toContain('invalid_json')
    expect(await rejects.textContent()).toContain(`devices/${CAMERA}/telemetry`)
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'devices-rejects-1366x768')
    await rejects.getByRole('button', { name: 'Đóng', exact: true }).click()
    await rejects.waitFor({ state: 'hidden' })

    // Rotate: confirmed in a dialog; the new secret shows once with its QR code; the old one is refused.
    await page.getByRole('button', { name: `Đổi mật khẩu: ${label}` }).click()
    const confirm = page.getByRole('dialog', { name: 'Đổi mật khẩu thiết bị' })
    await confirm.waitFor()
    expect(await axeSerious(page)).toEqual([])
    const rotated = page.waitForResponse((r) => r.url().endsWith(`/devices/${CAMERA}/rotate-secret`))
    await confirm.getByRole('button', { name: 'Đổi mật khẩu', exact: true }).click()
    const fresh = ((await (await rotated).json()) as { credentials: Credentials }).credentials
    expect(fresh.password).not.toBe(cred.password)
    await page
      .locator('section.credentials')
      .getByRole('heading', { name: `Mật khẩu mới của ${label}` })
      .waitFor()
    expect(JSON.parse(await readQr(page))).toEqual({ mqtt_url: fresh.mqtt_url, username: fresh.username, password: fresh.password })
    await expect(mqttLogin(cred)).rejects.toThrow(/Not authorized|Bad username or password/i)
    await mqttLogin(fresh)

    // Disable and enable again (PATCH state), then remove after a confirmation.
    await page.getByRole('button', { name: `Tắt: ${label}` }).click()
    await row.getByText('Đã tắt', { exact: true }).waitFor()
    expect((await admin<{ state: string }>('GET', `/devices/${CAMERA}`)).body.state).toBe('disabled')
    await expect(mqttLogin(fresh)).rejects.toThrow()
    await page.getByRole('button', { name: `Bật: ${label}` }).click()
    await row.getByText('Hoạt động', { exact: true }).waitFor()
    expect((await admin<{ state: string }>('GET', `/devices/${CAMERA}`)).body.state).toBe('active')

    await page.getByRole('button', { name: `Gỡ bỏ: ${label}` }).click()
    const removal = page.getByRole('dialog', { name: 'Gỡ bỏ thiết bị' })
    expect(await removal.textContent()).toContain(label)
    await removal.getByRole('button', { name: 'Hủy' }).click()
    expect((await admin<{ state: string }>('GET', `/devices/${CAMERA}`)).body.state).toBe('active')
    await page.getByRole('button', { name: `Gỡ bỏ: ${label}` }).click()
    await removal.getByRole('button', { name: 'Gỡ bỏ', exact: true }).click()
    await row.getByText('Đã gỡ bỏ', { exact: true }).waitFor()
    expect((await admin<{ state: string }>('GET', `/devices/${CAMERA}`)).body.state).toBe('decommissioned')
    expect(await row.getByRole('button', { name: /Đổi mật khẩu/ }).count()).toBe(0)
    await screenshot(page, 'devices-1366x768')

    // The English labels.
    await page.getByRole('button', { name: 'Chuyển sang tiếng Anh' }).click()
    await page.getByRole('heading', { name: 'Devices', exact: true }).waitFor()
    expect(await page.getByRole('button', { name: 'Register', exact: true }).count()).toBe(1)
    await page.getByRole('button', { name: 'Switch to Vietnamese' }).click()
    expect(unexpected(problems)).toEqual([])
    await context.close()
  })

  it('renders a device named as HTML as text, on a phone; an officer sees the list without actions', async () => {
    const context = await ui.browser.newContext({ viewport: SIZES.phone, isMobile: true, hasTouch: true, deviceScaleFactor: 2 })
    const { page, problems } = await watchedPage(context)
    await logIn(page, TECH)
    const made = await register(page, { kind: 'water_level', name: XSS_NAME, station: 'phu-oc', district: 'Quảng Điền' })
    const panel = page.locator('section.credentials')
    await panel.waitFor()
    expect(await panel.locator('h2').textContent()).toContain(XSS_NAME)
    expect(JSON.parse(await readQr(page))).toEqual({ ...made.credentials })
    expect(await page.locator('img[src="x"]').count()).toBe(0)
    const overflow = () => page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')
    expect(await overflow()).toBeLessThanOrEqual(0)
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'devices-credentials-390x844')
    await panel.getByRole('button', { name: 'Đã lưu, đóng lại' }).click()
    const row = page.locator(`tr[data-device-id="${made.device.id}"]`)
    expect(await row.locator('.device-name').textContent()).toBe(XSS_NAME)
    expect(await page.locator('img[src="x"]').count()).toBe(0)
    expect(await overflow()).toBeLessThanOrEqual(0)
    expect(await axeSerious(page)).toEqual([])
    await row.scrollIntoViewIfNeeded()
    await screenshot(page, 'devices-390x844')
    expect(problems.filter((p) => p.startsWith('dialog'))).toEqual([])
    expect(unexpected(problems)).toEqual([])
    await page.getByRole('button', { name: 'Đăng xuất' }).click()

    // The officer reads the same list (GET /devices) but has no form and no device action.
    await logIn(page, OFFICER)
    await page.locator(`tr[data-device-id="${made.device.id}"]`).waitFor()
    expect(await page.locator('details.device-form').count()).toBe(0)
    expect(await page.getByRole('button', { name: /Đổi mật khẩu|Gỡ bỏ|Tin bị từ chối/ }).count()).toBe(0)
    expect(await axeSerious(page)).toEqual([])
    await page.getByRole('link', { name: 'Cảnh báo', exact: true }).click()
    await page.getByRole('heading', { name: 'Bảng cảnh báo' }).waitFor()
    expect(unexpected(problems)).toEqual([])
    await context.close()
  })
})
