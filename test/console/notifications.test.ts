import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml, stringify } from 'yaml'
import { ROOT } from '../support/gateway-process.ts'
import { requireCommand, waitFor } from '../support/services.ts'
import { startStandIns, standInConfig, type StandIns } from '../notify/standins.ts'
import { axeSerious, logInAt, screenshot, SIZES, useConsoleSuite, watchedPage } from './support.ts'

// The officer's Notifications page (docs/console.md, "Notifications") in real Chromium against
// `iocgw start` as a real process whose SMS provider is the local eSMS stand-in: add a contact with
// quiet hours through the dialog, send a test message that reaches the stand-in, see its outbox row
// with the provider's answer, edit the contact; axe-core finds nothing serious; a viewer has no
// such page (the API keeps contacts from viewers, docs/api.md).

const haveChromium = requireCommand('chromium')
const ADMIN = `console-notify-admin-${Math.random().toString(36).slice(2)}-token`
const OFFICER = { name: 'tran.thi.hoa', password: 'mat-khau-truc-ban-2026' }
const VIEWER = { name: 'ngo.van.binh', password: 'mat-khau-xem-2026' }

let prov: StandIns
const ui = useConsoleSuite({
  name: 'notify',
  adminToken: ADMIN,
  enabled: haveChromium,
  // The provider stand-ins, and the project's config file naming them.
  env: async (dir) => {
    prov = await startStandIns()
    const config = parseYaml(readFileSync(join(ROOT, 'config', 'gateway.yaml'), 'utf8')) as Record<string, unknown>
    const file = join(dir, 'gateway.yaml')
    writeFileSync(file, stringify({ ...config, notify: standInConfig(prov), vision: { enabled: false } }))
    return { IOC_CONFIG: file }
  },
  setUp: async () => {
    expect((await admin('POST', '/users', { name: OFFICER.name, role: 'officer', password: OFFICER.password })).status).toBe(201)
    expect((await admin('POST', '/users', { name: VIEWER.name, role: 'viewer', password: VIEWER.password })).status).toBe(201)
  },
  tearDown: async () => prov?.close(),
})
const { admin } = ui
const unexpected = (problems: string[]) => problems.filter((p) => !/401 \(Unauthorized\)/.test(p))

async function addContact(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Thêm người nhận', exact: true }).click()
  const dialog = page.getByRole('dialog', { name: 'Thêm người nhận' })
  await dialog.getByLabel('Họ tên', { exact: true }).fill('Nguyễn Văn An')
  await dialog.getByLabel('Số điện thoại', { exact: true }).fill('0905123456')
  await dialog.getByLabel('Trạm (cách nhau bằng dấu phẩy)').fill('kim-long, phu-oc')
  await dialog.getByLabel('Mức tối thiểu').selectOption('major')
  await dialog.getByLabel('Mực nước', { exact: true }).check()
  await dialog.getByLabel('Từ', { exact: true }).fill('22:00')
  await dialog.getByLabel('Đến', { exact: true }).fill('06:00')
  await dialog.getByLabel('Vẫn gửi từ mức').selectOption('major')
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/subscriptions') && r.request().method() === 'POST')
  await dialog.getByRole('button', { name: 'Lưu', exact: true }).click()
  expect((await answer).status()).toBe(201)
}

describe.skipIf(!haveChromium)('the officer in chromium', () => {
  it('adds a contact with quiet hours, sends a test that reaches the SMS provider, sees the outbox row with its answer, edits the contact', async () => {
    const context = await ui.browser.newContext({ viewport: SIZES.desk })
    const { page, problems } = await watchedPage(context)
    await logInAt(page, `${ui.gw.apiUrl}/notifications`, OFFICER, 'Thông báo')
    expect(
      await page.getByRole('navigation', { name: 'Trang' }).getByRole('link', { name: 'Thông báo' }).getAttribute('aria-current'),
    ).toBe('page')
    await page.getByText('Chưa có người nhận nào.').waitFor()

    await addContact(page)
    const row = page.locator('tr', { has: page.getByText('Nguyễn Văn An', { exact: true }) })
    await row.waitFor()
    expect(await row.textContent()).toContain('22:00–06:00')
    const stored = (await admin<{ items: Array<Record<string, unknown>> }>('GET', '/subscriptions')).body.items
    expect(stored).toHaveLength(1)
    expect(stored[0]).toMatchObject({
      name: 'Nguyễn Văn An',
      phone: '0905123456',
      stations: ['kim-long', 'phu-oc'],
      kinds: ['water_level'],
      min_severity: 'major',
      channels: ['sms'],
      quiet_hours: { from: '22:00', to: '06:00', bypass: 'major' },
    })

    await page.getByRole('button', { name: 'Gửi thử: Nguyễn Văn An (0905123456)' }).click()
    const results = page.locator('.test-results')
    await results.getByText('SMS: đã gửi').waitFor()
    const sms = prov.delivered('esms')
    expect(sms).toHaveLength(1)
    expect(sms[0]!.body.Phone).toBe('0905123456')
    expect(String(sms[0]!.body.Content)).toContain('Tin nhan thu gui Nguyen Van An')

    // The outbox row, with the provider's message id as the stand-in gave it.
    const listed = (
      await admin<{ items: Array<{ provider_message_id: string; provider_answer: string; state: string }> }>('GET', '/notifications')
    ).body.items
    expect(listed).toHaveLength(1)
    expect(listed[0]).toMatchObject({ state: 'sent', provider_message_id: expect.stringMatching(/^sms-/) })
    const out = page.locator('table.outbox-list tbody tr')
    await waitFor(async () => (await out.count()) === 1, 15_000)
    expect(await out.first().getAttribute('data-state')).toBe('sent')
    expect(await out.first().locator('.outbox-answer').textContent()).toBe(`accepted (${listed[0]!.provider_message_id})`)
    expect(await out.first().textContent()).toContain('Đã gửi')
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'notifications-1366x768')

    // Filtering by state: no failed message.
    await page.getByLabel('Trạng thái', { exact: true }).selectOption('failed')
    await page.getByText('Không có tin nào khớp bộ lọc.').waitFor()
    await page.getByLabel('Trạng thái', { exact: true }).selectOption('')
    await waitFor(async () => (await out.count()) === 1, 15_000)

    // Edit: the dialog opens filled in; the change goes out as a PATCH.
    await page.getByRole('button', { name: 'Sửa: Nguyễn Văn An (0905123456)' }).click()
    const dialog = page.getByRole('dialog', { name: 'Sửa người nhận Nguyễn Văn An' })
    expect(await dialog.getByLabel('Từ', { exact: true }).inputValue()).toBe('22:00')
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'notifications-dialog-1366x768')
    await dialog.getByLabel('Họ tên', { exact: true }).fill('Nguyễn Văn An (trực đêm)')
    await dialog.getByLabel('Từ', { exact: true }).fill('23:00')
    const patch = page.waitForResponse((r) => r.url().includes('/api/v1/subscriptions/') && r.request().method() === 'PATCH')
    await dialog.getByRole('button', { name: 'Lưu', exact: true }).click()
    expect((await patch).status()).toBe(200)
    await page.getByText('Nguyễn Văn An (trực đêm)', { exact: true }).waitFor()
    expect((await admin<{ items: Array<Record<string, unknown>> }>('GET', '/subscriptions')).body.items[0]).toMatchObject({
      quiet_hours: { from: '23:00', to: '06:00', bypass: 'major' },
      stations: ['kim-long', 'phu-oc'],
    })
    expect(unexpected(problems)).toEqual([])
    await context.close()
  })

  it('fits a phone screen', async () => {
    const context = await ui.browser.newContext({ viewport: SIZES.phone })
    const { page, problems } = await watchedPage(context)
    await logInAt(page, `${ui.gw.apiUrl}/notifications`, OFFICER, 'Thông báo')
    await page.locator('table.outbox-list tbody tr').first().waitFor()
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'notifications-390x844')
    await page.getByRole('button', { name: 'Thêm người nhận', exact: true }).click()
    await page.getByRole('dialog', { name: 'Thêm người nhận' }).waitFor()
    await screenshot(page, 'notifications-dialog-390x844')
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth')
    expect(overflow).toBeLessThanOrEqual(0)
    expect(unexpected(problems)).toEqual([])
    await context.close()
  })

  it('a viewer has no Notifications page', async () => {
    const context = await ui.browser.newContext({ viewport: SIZES.desk })
    const { page } = await watchedPage(context)
    await logInAt(page, `${ui.gw.apiUrl}/notifications`, VIEWER, 'Bảng cảnh báo')
    expect(await page.getByRole('navigation', { name: 'Trang' }).getByRole('link', { name: 'Thông báo' }).count()).toBe(0)
    await context.close()
  })
})
