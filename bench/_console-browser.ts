// Browser side of bench/console.ts: sessions in real Chromium (playwright-core, Debian's
// /usr/bin/chromium) and a MutationObserver installed before the console's own script, which
// records when each alert row appears (performance.timeOrigin + performance.now(): epoch ms on the
// machine's clock, the clock the bench stamps its MQTT publishes with) and when the board first
// holds the wanted number of rows with its first Acknowledge button enabled.
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { chromium } from 'playwright-core'

export const VIEWPORT = { width: 1366, height: 768 }

export function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] })
}

/** Logs in through the API as the console's form does (docs/api.md, "Console sessions"). */
export async function logIn(base: string, name: string, password: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: name, password }),
  })
  if (res.status !== 200) throw new Error(`login answered ${res.status}: ${await res.text()}`)
  const cookie = /iocgw_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1]
  if (!cookie) throw new Error('login answered no session cookie')
  return cookie
}

/** Runs in the page before any of its scripts; `want` rows make the board "interactive". */
const observer = (want: number) => `(() => {
  const seen = (window.__seen = Object.create(null));
  window.__boardAt = 0;
  const check = () => {
    const rows = document.querySelectorAll('li.alert[data-alert-id]');
    if (rows.length < ${want}) return;
    const first = rows[0].querySelector('button');
    if (!first || first.disabled) return;
    window.__boardAt = performance.now();
    requestAnimationFrame(() => setTimeout(() => { window.__boardPaintedAt = performance.now() }, 0));
  };
  new MutationObserver((records) => {
    const t = performance.timeOrigin + performance.now();
    for (const r of records) for (const n of r.addedNodes) {
      if (n.nodeType !== 1) continue;
      const rows = n.matches('li.alert[data-alert-id]') ? [n] : n.querySelectorAll('li.alert[data-alert-id]');
      for (const li of rows) { const id = li.getAttribute('data-alert-id'); if (!(id in seen)) seen[id] = t }
    }
    if (!window.__boardAt) check();
  }).observe(document, { childList: true, subtree: true });
})()`

/** A browser context holding one console session (its own cookie), with the observer installed. */
export async function sessionContext(browser: Browser, base: string, cookie: string, want: number): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: VIEWPORT })
  await context.addCookies([{ name: 'iocgw_session', value: cookie, url: base, httpOnly: true, sameSite: 'Strict' }])
  await context.addInitScript({ content: observer(want) })
  return context
}

export interface BoardLoad {
  /** Navigation start to `want` rows in the DOM with the first Acknowledge button enabled (ms). */
  interactiveMs: number
  /** To the end of the next frame after that (ms). */
  paintedMs: number
  /** The page's own GET /api/v1/alerts?state=open: request start to response end (ms). */
  alertsFetchMs: number
  /** The renderer's main-thread time up to then (CDP Performance.getMetrics), ms: script, style, layout, all tasks. */
  scriptMs: number
  styleMs: number
  layoutMs: number
  taskMs: number
  /** CPU time of the renderer's main thread and of its whole process up to then, ms: what the page cost, whatever else ran. */
  threadCpuMs: number
  processCpuMs: number
}

/** Opens the board and waits until it is interactive. */
export async function openBoard(context: BrowserContext, base: string, timeoutMs = 120_000): Promise<{ page: Page; load: BoardLoad }> {
  const page = await context.newPage()
  const cdp = await context.newCDPSession(page)
  await cdp.send('Performance.enable')
  await page.goto(`${base}/`)
  // A function, not a string: the console's CSP refuses eval, which a string predicate needs.
  await page.waitForFunction(() => ((globalThis as unknown as { __boardPaintedAt?: number }).__boardPaintedAt ?? 0) > 0, undefined, {
    timeout: timeoutMs,
    polling: 100,
  })
  const load = (await page.evaluate(`(() => {
    const e = performance.getEntriesByType('resource').find((r) => r.name.includes('/api/v1/alerts?state=open'));
    return { interactiveMs: window.__boardAt, paintedMs: window.__boardPaintedAt, alertsFetchMs: e ? e.responseEnd - e.startTime : NaN };
  })()`)) as Pick<BoardLoad, 'interactiveMs' | 'paintedMs' | 'alertsFetchMs'>
  const { metrics } = await cdp.send('Performance.getMetrics')
  const m = (name: string) => (metrics.find((x) => x.name === name)?.value ?? Number.NaN) * 1000
  await cdp.detach()
  if (process.env.BENCH_TIMELINE) {
    console.log(
      await page.evaluate(
        `JSON.stringify({ nav: performance.getEntriesByType('navigation').map((e) => [e.domContentLoadedEventEnd, e.loadEventEnd]), res: performance.getEntriesByType('resource').map((e) => [e.name.replace(location.origin, ''), Math.round(e.startTime), Math.round(e.responseStart), Math.round(e.responseEnd)]) })`,
      ),
    )
  }
  return {
    page,
    load: {
      ...load,
      scriptMs: m('ScriptDuration'),
      styleMs: m('RecalcStyleDuration'),
      layoutMs: m('LayoutDuration'),
      taskMs: m('TaskDuration'),
      threadCpuMs: m('ThreadTime'),
      processCpuMs: m('ProcessTime'),
    },
  }
}

/** Epoch ms at which each alert id's row first appeared on the page. */
export const seenRows = (page: Page) => page.evaluate('window.__seen') as Promise<Record<string, number>>
