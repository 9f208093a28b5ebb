import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireCommand } from '../support/services.ts'
import { makeApi, type TestApi } from './support.ts'

// /docs in a real browser: the security headers (CSP) must not break the OpenAPI page.

const haveChromium = requireCommand('chromium')
let api: TestApi
let base: string
let browser: Browser | undefined

beforeAll(async () => {
  if (!haveChromium) return
  api = await makeApi()
  base = await api.app.listen({ port: 0, host: '127.0.0.1' })
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] })
})
afterAll(async () => {
  await browser?.close()
  await api?.close()
})

describe.skipIf(!haveChromium)('/docs in chromium', () => {
  it('renders every operation with no CSP or script error', async () => {
    const page = await browser!.newPage()
    const problems: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text())
    })
    page.on('pageerror', (e) => problems.push(e.message))
    await page.goto(`${base}/docs`)
    await page.waitForSelector('.opblock', { timeout: 30_000 })
    const doc = (await (await fetch(`${base}/docs/json`)).json()) as { paths: Record<string, Record<string, unknown>> }
    const operations = Object.values(doc.paths).reduce((n, p) => n + Object.keys(p).length, 0)
    expect(await page.locator('.opblock').count()).toBe(operations)
    expect(await page.locator('button.authorize').count()).toBe(1)
    expect(problems).toEqual([])
  })
})
