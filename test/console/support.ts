import { AxeBuilder } from '@axe-core/playwright'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type mqtt from 'mqtt'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { chromium } from 'playwright-core'
import { afterAll, beforeAll } from 'vitest'
import { DEFAULT_DIST } from '../../gateway/console/plugin.ts'
import { connectNewDevice, type NewDevice } from '../support/gateway-api.ts'
import { ROOT, spawnGateway, stopGateway, type GatewayProcess } from '../support/gateway-process.ts'
import { tempDir, waitFor } from '../support/services.ts'

const WEB = join(ROOT, 'gateway', 'console', 'web')
export const SCREENSHOTS = join(ROOT, 'test-output', 'screenshots')
export const SIZES = { desk: { width: 1366, height: 768 }, phone: { width: 390, height: 844 } } as const

function newestSource(dir: string): number {
  let newest = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs)
  }
  return newest
}

/**
 * Builds the console (as `npm run build:console` does) when dist is missing or older than its
 * sources, so the browser tests always run the code under test. A lock directory keeps two test
 * files from building into the same folder at once.
 */
export async function ensureConsoleBuilt(): Promise<void> {
  const index = join(DEFAULT_DIST, 'index.html')
  const stale = () =>
    !existsSync(index) ||
    statSync(index).mtimeMs < Math.max(newestSource(WEB), statSync(join(ROOT, 'gateway', 'console', 'vite.config.ts')).mtimeMs)
  if (!stale()) return
  const lock = join(ROOT, 'gateway', 'console', '.build-lock')
  await waitFor(
    () => {
      try {
        mkdirSync(lock)
        return true
      } catch {
        return false
      }
    },
    120_000,
    200,
  )
  try {
    if (stale()) {
      execFileSync(
        process.execPath,
        [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(ROOT, 'gateway', 'console', 'vite.config.ts')],
        { cwd: ROOT, stdio: 'pipe' },
      )
    }
  } finally {
    rmdirSync(lock)
  }
}

export async function launchChromium(): Promise<Browser> {
  // Autoplay without a gesture: a restored session chimes before the officer has clicked.
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] })
}

export interface Watched {
  page: Page
  /** Console errors, page errors, CSP violations and JavaScript dialogs seen so far. */
  problems: string[]
}

/**
 * A page that records everything that must never happen: script errors, CSP violations (reported
 * by the browser as console errors and as securitypolicyviolation events) and alert() dialogs.
 */
export async function watchedPage(context: BrowserContext): Promise<Watched> {
  const page = await context.newPage()
  const problems: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.type()} ${d.message()}`)
    void d.dismiss()
  })
  await page.exposeFunction('__cspViolation', (v: string) => problems.push(`csp: ${v}`))
  await page.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) => window.__cspViolation(e.violatedDirective + ' ' + e.blockedURI))`,
  })
  return { page, problems }
}

/** Serious or critical axe-core violations on the page as it is now (WCAG 2.1 A/AA rules). */
export async function axeSerious(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze()
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`)
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false })
}

/**
 * `iocgw start` for a browser test, with the console built and `adminToken` as its bootstrap admin
 * token (and `env`, e.g. IOC_CONFIG). Free ports are picked before the gateway binds them; on a busy machine another process
 * may take one in between, so a start refused for that reason is tried again on new ports.
 */
export async function startConsoleGateway(dataDir: string, adminToken: string, env: Record<string, string> = {}): Promise<GatewayProcess> {
  await ensureConsoleBuilt()
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnGateway({ dataDir, env: { IOC_ADMIN_TOKEN: adminToken, ...env } })
    } catch (err) {
      if (attempt === 3 || !String(err).includes('EADDRINUSE')) throw err
    }
  }
}

/** One API call with a bearer token (the tests' set-up, done as an admin would). */
export async function apiAs<T>(
  gw: GatewayProcess,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${gw.apiUrl}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  return { status: res.status, body: (await res.json()) as T }
}

/**
 * Opens `url`, logs in through the form as a person would (its labelled fields, docs/console.md)
 * and waits for the page's heading.
 */
export async function logInAt(page: Page, url: string, user: { name: string; password: string }, heading: string): Promise<void> {
  await page.goto(url)
  await page.getByLabel('Tên đăng nhập', { exact: true }).fill(user.name)
  await page.getByLabel('Mật khẩu', { exact: true }).fill(user.password)
  await page.getByRole('button', { name: 'Đăng nhập', exact: true }).click()
  await page.getByRole('heading', { name: heading, exact: true }).waitFor({ timeout: 30_000 })
}

export interface ConsoleSuiteOptions {
  /** The temp directory is iocgw-console-<name>-…; the gateway's data go in its data/. */
  name: string
  adminToken: string
  /** False (no chromium here, the suite is skipped): nothing is started. */
  enabled: boolean
  /** Before the gateway starts: more of its environment (a config file written in `dir`, say). */
  env?: (dir: string) => Promise<Record<string, string>> | Record<string, string>
  /** Once the gateway is up, before chromium starts: the suite's users, devices and readings. */
  setUp?: () => Promise<void>
  /** After the gateway stopped, before the directory is removed. */
  tearDown?: () => Promise<void>
  /** The time limit of the start, set-up included (180 s when absent). */
  timeoutMs?: number
}

export interface ConsoleSuite {
  /** The suite's temp directory. */
  readonly dir: string
  readonly gw: GatewayProcess
  readonly browser: Browser
  /** MQTT clients of the suite's devices: ended after its tests, first. */
  readonly clients: mqtt.MqttClient[]
  /** One API call as the admin token. */
  admin<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>
  /** Registers `device` through the API as the admin and connects it over MQTT (one of `clients`). */
  device(device: NewDevice): Promise<mqtt.MqttClient>
}

/**
 * `iocgw start` with the console built, on a fresh temp directory, and chromium, for the calling
 * suite: started before its tests, then closed after them (clients, chromium, gateway, directory).
 */
export function useConsoleSuite(o: ConsoleSuiteOptions): ConsoleSuite {
  let dir: ReturnType<typeof tempDir> | undefined
  let gw: GatewayProcess | undefined
  let browser: Browser | undefined
  const clients: mqtt.MqttClient[] = []
  const started = <T>(what: string, v: T | undefined): T => {
    if (v === undefined) throw new Error(`useConsoleSuite: ${what} is not started (read it in tests or later hooks)`)
    return v
  }
  beforeAll(async () => {
    if (!o.enabled) return
    dir = tempDir(`iocgw-console-${o.name}-`)
    const env = o.env ? await o.env(dir.path) : {}
    gw = await startConsoleGateway(join(dir.path, 'data'), o.adminToken, env)
    await o.setUp?.()
    browser = await launchChromium()
  }, o.timeoutMs ?? 180_000)
  afterAll(async () => {
    for (const c of clients) await c.endAsync().catch(() => {})
    await browser?.close()
    if (gw) await stopGateway(gw)
    await o.tearDown?.()
    dir?.remove()
  })
  return {
    get dir() {
      return started('the directory', dir).path
    },
    get gw() {
      return started('the gateway', gw)
    },
    get browser() {
      return started('chromium', browser)
    },
    clients,
    admin: (method, path, body) => apiAs(started('the gateway', gw), o.adminToken, method, path, body),
    async device(device) {
      const client = await connectNewDevice(started('the gateway', gw), o.adminToken, device)
      clients.push(client)
      return client
    },
  }
}
