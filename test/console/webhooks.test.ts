import { describe, expect, it } from 'vitest'
import { requireCommand } from '../support/services.ts'
import { axeSerious, logInAt, screenshot, SIZES, useConsoleSuite, watchedPage } from './support.ts'

// The Webhooks page (docs/webhooks.md) in real Chromium against `iocgw start`: an admin sees the
// subscriptions with their state and delivery log; other roles have no such page in the nav.

const haveChromium = requireCommand('chromium')
const ADMIN = `console-webhooks-admin-${Math.random().toString(36).slice(2)}-token`
const BOSS = { name: 'tran.quan.tri', password: 'mat-khau-quan-tri-2026' }
const OFFICER = { name: 'le.van.an', password: 'mat-khau-truc-ban-2026' }

// The log-in page asks for the session first: its 401 is expected.
const unexpected = (problems: string[]) => problems.filter((p) => !/401 \(Unauthorized\)/.test(p))
const ui = useConsoleSuite({ name: 'webhooks', adminToken: ADMIN, enabled: haveChromium, setUp, timeoutMs: 120_000 })
const { admin } = ui

/** The admin and officer accounts; two webhooks, the second disabled. */
async function setUp(): Promise<void> {
  expect((await admin('POST', '/users', { name: BOSS.name, role: 'admin', password: BOSS.password })).status).toBe(201)
  expect((await admin('POST', '/users', { name: OFFICER.name, role: 'officer', password: OFFICER.password })).status).toBe(201)
  const a = await admin<{ webhook: { id: string } }>('POST', '/webhooks', {
    url: 'https://ioc.example.vn/hooks/iocgw',
    events: ['alert.opened', 'alert.resolved'],
  })
  expect(a.status).toBe(201)
  const b = await admin<{ webhook: { id: string } }>('POST', '/webhooks', {
    url: 'http://127.0.0.1:9/old-collector',
    events: ['device.offline'],
  })
  expect((await admin('PATCH', `/webhooks/${b.body.webhook.id}`, { enabled: false })).status).toBe(200)
}
describe.runIf(haveChromium)('console: webhooks', () => {
  it('shows an admin the subscriptions and their delivery logs, in Vietnamese and English', async () => {
    for (const [size, vp] of Object.entries(SIZES)) {
      const context = await ui.browser.newContext({ viewport: vp })
      const { page, problems } = await watchedPage(context)
      await logInAt(page, `${ui.gw.apiUrl}/webhooks`, BOSS, 'Webhook gửi tới hệ thống cấp trên')
      await page.getByRole('heading', { name: 'https://ioc.example.vn/hooks/iocgw' }).waitFor()
      expect(await page.getByText('Đã tắt: disabled by an admin').count()).toBe(1)
      expect(await page.getByRole('table', { name: 'Nhật ký gửi tới https://ioc.example.vn/hooks/iocgw, mới nhất trước' }).count()).toBe(1)
      expect(
        await page.getByRole('navigation', { name: 'Trang' }).getByRole('link', { name: 'Webhook' }).getAttribute('aria-current'),
      ).toBe('page')
      expect(await axeSerious(page)).toEqual([])
      await screenshot(page, `webhooks-${vp.width}x${vp.height}`)
      await page.getByRole('button', { name: 'Chuyển sang tiếng Anh' }).click()
      await page.getByRole('heading', { name: 'Webhooks to upstream systems' }).waitFor()
      expect(await page.getByRole('columnheader', { name: 'Key (X-IOC-Delivery)' }).count()).toBe(2)
      await page.getByRole('button', { name: 'Switch to Vietnamese' }).click()
      expect(unexpected(problems), size).toEqual([])
      await context.close()
    }
  })

  it('has no Webhooks link for an officer', async () => {
    const context = await ui.browser.newContext({ viewport: SIZES.desk })
    const { page } = await watchedPage(context)
    await logInAt(page, `${ui.gw.apiUrl}/`, OFFICER, 'Bảng cảnh báo')
    expect(await page.getByRole('navigation', { name: 'Trang' }).getByRole('link', { name: 'Webhook' }).count()).toBe(0)
    await context.close()
  })
})
