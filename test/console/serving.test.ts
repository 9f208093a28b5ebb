import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONSOLE_CSP, consolePlugin } from '../../gateway/console/plugin.ts'
import { makeApi, type TestApi } from '../api/support.ts'
import { requireCommand, tempDir } from '../support/services.ts'
import { axeSerious, ensureConsoleBuilt, launchChromium, screenshot, SIZES, watchedPage } from './support.ts'

// The console as files (docs/console.md): served at / by the gateway with its own strict CSP,
// hashed assets cached for good, client routes answered with index.html, the API's JSON 404 kept,
// /docs untouched; and the login page in a real browser, in both languages, accessible.

let api: TestApi
let base: string

beforeAll(async () => {
  await ensureConsoleBuilt()
  api = await makeApi({
    register: async (app) => {
      await app.register(consolePlugin)
    },
  })
  base = await api.app.listen({ port: 0, host: '127.0.0.1' })
})
afterAll(async () => {
  await api?.close()
})

describe('serving the built console', () => {
  it('answers / and client routes with index.html under a CSP without inline script or style', async () => {
    for (const path of ['/', '/alerts/abc-123', '/cameras', '/cameras/cam-truong-tien-01']) {
      const res = await fetch(`${base}${path}`)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^text\/html/)
      expect(res.headers.get('cache-control')).toBe('no-cache')
      expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP)
      const html = await res.text()
      expect(html).toContain('<div id="app"></div>')
      // Every script is a file of the build: nothing inline for the CSP to allow.
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
      expect(html).not.toMatch(/\sstyle=/)
    }
    const csp = CONSOLE_CSP.split('; ')
    expect(csp).toEqual(expect.arrayContaining(["script-src 'self'", "style-src 'self'", "object-src 'none'", "frame-ancestors 'none'"]))
    expect(CONSOLE_CSP).not.toContain('unsafe-inline')
    expect(CONSOLE_CSP).not.toContain('unsafe-eval')
  })

  it('serves hashed assets with a long cache, and nothing outside the build', async () => {
    const html = await (await fetch(`${base}/`)).text()
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1] as string)
    expect(assets.some((a) => /^\/assets\/index-[\w-]{8,}\.js$/.test(a))).toBe(true)
    expect(assets.some((a) => /^\/assets\/index-[\w-]{8,}\.css$/.test(a))).toBe(true)
    for (const a of assets) {
      const res = await fetch(`${base}${a}`)
      expect(res.status, a).toBe(200)
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    }
    for (const path of ['/assets/missing.js', '/assets/../index.html', '/assets/%2e%2e/plugin.ts', '/nope', '/api/v1/nope']) {
      const res = await fetch(`${base}${path}`)
      expect(res.status, path).toBe(404)
      expect(res.headers.get('content-type'), path).toMatch(/^application\/json/)
    }
  })

  it('leaves /docs and the API with their own headers', async () => {
    const docs = await fetch(`${base}/docs/static/index.html`)
    expect(docs.status).toBe(200)
    expect(docs.headers.get('content-security-policy')).not.toBe(CONSOLE_CSP)
    const health = await fetch(`${base}/healthz`)
    expect(health.headers.get('content-security-policy')).not.toBe(CONSOLE_CSP)
  })

  it('starts without a build and says how to make one', async () => {
    const empty = tempDir('iocgw-console-')
    const bare = await makeApi({
      register: async (app) => {
        await app.register(consolePlugin, { dist: empty.path })
      },
    })
    try {
      const res = await bare.app.inject({ method: 'GET', url: '/' })
      expect(res.statusCode).toBe(503)
      expect(res.body).toContain('npm run build:console')
      expect(bare.logs.some((l) => l.includes('npm run build:console'))).toBe(true)
      expect((await bare.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    } finally {
      await bare.close()
      empty.remove()
    }
  })
})

const haveChromium = requireCommand('chromium')

describe.skipIf(!haveChromium)('the login page in chromium', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('shows labelled fields in Vietnamese, switches to English and keeps the choice, with no CSP or script error', async () => {
    const context = await browser.newContext({ viewport: SIZES.desk })
    const { page, problems } = await watchedPage(context)
    await page.goto(`${base}/`)
    await expect.poll(() => page.getByLabel('Tên đăng nhập', { exact: true }).count()).toBe(1)
    expect(await page.getByLabel('Mật khẩu', { exact: true }).count()).toBe(1)
    expect(await page.getByRole('button', { name: 'Đăng nhập', exact: true }).count()).toBe(1)
    expect(
      await page.evaluate(
        () => (globalThis as unknown as { document: { documentElement: { lang: string } } }).document.documentElement.lang,
      ),
    ).toBe('vi')
    await screenshot(page, 'login-1366x768')

    await page.getByRole('button', { name: 'Chuyển sang tiếng Anh' }).click()
    await expect.poll(() => page.getByLabel('Username', { exact: true }).count()).toBe(1)
    expect(await page.getByLabel('Password', { exact: true }).count()).toBe(1)
    await page.reload()
    await expect.poll(() => page.getByLabel('Username', { exact: true }).count()).toBe(1)
    expect(
      await page.evaluate(
        () => (globalThis as unknown as { document: { documentElement: { lang: string } } }).document.documentElement.lang,
      ),
    ).toBe('en')
    expect(await axeSerious(page)).toEqual([])
    await page.getByRole('button', { name: 'Switch to Vietnamese' }).click()
    await expect.poll(() => page.getByLabel('Tên đăng nhập', { exact: true }).count()).toBe(1)
    expect(await axeSerious(page)).toEqual([])

    // A refused login says so in words, and nothing is logged in.
    await page.getByLabel('Tên đăng nhập', { exact: true }).fill('khong-co-ai')
    await page.getByLabel('Mật khẩu', { exact: true }).fill('sai-mat-khau-123')
    await page.getByRole('button', { name: 'Đăng nhập', exact: true }).click()
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Sai tên đăng nhập hoặc mật khẩu')
    // The refused login itself is a 401 the browser reports on the console; nothing else may be.
    expect(problems.filter((p) => !/401 \(Unauthorized\)/.test(p))).toEqual([])
    await context.close()
  })

  it('fits a phone', async () => {
    const context = await browser.newContext({ viewport: SIZES.phone, isMobile: true, hasTouch: true, deviceScaleFactor: 2 })
    const { page, problems } = await watchedPage(context)
    await page.goto(`${base}/`)
    await expect.poll(() => page.getByLabel('Tên đăng nhập', { exact: true }).count()).toBe(1)
    const overflow = await page.evaluate(() => {
      const d = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document
        .documentElement
      return d.scrollWidth - d.clientWidth
    })
    expect(overflow).toBeLessThanOrEqual(0)
    expect(await axeSerious(page)).toEqual([])
    await screenshot(page, 'login-390x844')
    expect(problems.filter((p) => !/401 \(Unauthorized\)/.test(p))).toEqual([])
    await context.close()
  })
})
