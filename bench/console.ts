// `npm run bench -- console [--board 200] [--runs 7] [--alerts 100] [--sessions 50] [--gap 500]`:
// the operator console (docs/console.md) in real Chromium against the whole gateway in a child
// process (bench/_console-gateway.ts), each figure beside a peer measured in the same run:
//   board: navigation to the alerts board showing --board open alerts, interactive (rows in the
//          DOM, first Acknowledge button enabled, next frame drawn); peer: the same page's own
//          GET /api/v1/alerts?state=open (ratio board/API). Median over --runs fresh contexts.
//   push:  a real MQTT gauge publishes a reading over level I, which opens an alert; latency to
//          its row on screen (MutationObserver, epoch ms) in 1 and in --sessions browser sessions
//          (each its own login and context, all on the board); peer: the same event reaching a
//          Node client of GET /api/v1/events (the gateway's part of the path).
//   size:  the built console's JavaScript, gzip (node:zlib, default level).
import { fork } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import mqtt from 'mqtt'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { DEFAULT_DIST } from '../gateway/console/plugin.ts'
import { ensureConsoleBuilt } from '../test/console/support.ts'
import { tempDir } from '../test/support/services.ts'
import { launch, logIn, openBoard, seenRows, sessionContext, type BoardLoad } from './_console-browser.ts'
import { arg, pct } from './_args.ts'

const ADMIN = 'bench-console-admin-token-0123456789'
const OFFICER = { name: 'bench.officer', password: 'bench-officer-password-2026' }
const GOALS = { boardMs: 1500, pushP99Ms: 500, jsKb: 250 }

const median = (xs: number[]) => pct(xs, 50)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const ms = (n: number) => `${n.toFixed(0)} ms`
const met = (ok: boolean) => (ok ? 'met' : 'NOT met')
const station = (i: number) => `bench-${String(i).padStart(3, '0')}`

/** Stations with the levels of Kim Long (config/stations.yaml), and the water-level rule alone, acting at once. */
function writeConfig(dir: string, stations: number): { stationsFile: string; rulesFile: string } {
  const districts = ['Phú Xuân', 'Thuận Hóa', 'Hương Trà', 'Phong Điền']
  const lines = ['legal_basis: Decision 05/2020/QĐ-TTg', 'stations:']
  for (let i = 0; i < stations; i++) {
    lines.push(
      `  ${station(i)}:`,
      `    name: Trạm ${i}`,
      `    district: ${districts[i % districts.length]}`,
      '    levels: { I: 1.00, II: 2.00, III: 3.50 }',
    )
  }
  const stationsFile = join(dir, 'stations.yaml')
  writeFileSync(stationsFile, `${lines.join('\n')}\n`)
  const rulesFile = join(dir, 'rules.yaml')
  writeFileSync(
    rulesFile,
    'version: 1\nrules:\n  - id: water-level\n    type: water_alarm\n    hysteresis_m: 0.10\n    min_duration_s: 0\n    severities: [minor, major, critical]\n',
  )
  return { stationsFile, rulesFile }
}

async function startGatewayChild(dir: string, files: { stationsFile: string; rulesFile: string }) {
  const proc = fork(
    join(import.meta.dirname, '_console-gateway.ts'),
    [join(dir, 'data'), join(dir, 'gateway.log'), files.stationsFile, files.rulesFile, ADMIN],
    { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  )
  const ports = await new Promise<{ http: number; mqtt: number }>((resolve, reject) => {
    proc.once('message', (m) => resolve((m as { ports: { http: number; mqtt: number } }).ports))
    proc.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)))
  })
  const stop = async () => {
    const exited = new Promise((r) => proc.once('exit', r))
    proc.send({ cmd: 'exit' })
    await Promise.race([exited, sleep(10_000)])
    proc.kill()
  }
  return { ports, stop }
}

async function admin<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`)
  return (res.status === 204 ? undefined : await res.json()) as T
}

/** One registered gauge per station, connected over MQTT with its own credentials. */
async function gauges(base: string, mqttUrl: string, count: number): Promise<mqtt.MqttClient[]> {
  const out: mqtt.MqttClient[] = []
  for (let i = 0; i < count; i++) {
    const id = `gauge-${station(i)}`
    const dev = await admin<{ credentials: { username: string; password: string } }>(base, 'POST', '/devices', {
      id,
      kind: 'water_level',
      name: `Gauge ${i}`,
      station: station(i),
    })
    out.push(
      await mqtt.connectAsync(mqttUrl, {
        clientId: id,
        username: dev.credentials.username,
        password: dev.credentials.password,
        reconnectPeriod: 0,
      }),
    )
  }
  return out
}

const publishLevel = (client: mqtt.MqttClient, i: number, metres: number) =>
  client.publishAsync(
    `devices/gauge-${station(i)}/telemetry`,
    JSON.stringify({ ts: Date.now(), seq: Date.now(), values: { water_level: metres } }),
    { qos: 1 },
  )

/** The peer of the push figure: alert events as a Node client of the SSE stream receives them. */
function sseClient(base: string): { opened: Map<string, { id: string; at: number }>; close(): void } {
  const opened = new Map<string, { id: string; at: number }>()
  const ac = new AbortController()
  void (async () => {
    const res = await fetch(`${base}/api/v1/events?readings=false`, { headers: { authorization: `Bearer ${ADMIN}` }, signal: ac.signal })
    const decoder = new TextDecoder()
    let buf = ''
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      const at = Date.now()
      buf += decoder.decode(chunk, { stream: true })
      let end: number
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end)
        buf = buf.slice(end + 2)
        if (!block.includes('event: alert')) continue
        const data = block.split('\n').find((l) => l.startsWith('data: '))
        const a = JSON.parse(data!.slice(6)) as { id: string; station?: string; change: { action: string } }
        if (a.change.action === 'opened' && a.station && !opened.has(a.station)) opened.set(a.station, { id: a.id, at })
      }
    }
  })().catch(() => {})
  return { opened, close: () => ac.abort() }
}

/** All alerts open now (admin). */
async function openAlerts(base: string): Promise<Array<{ id: string; station?: string }>> {
  const out: Array<{ id: string; station?: string }> = []
  let cursor: string | null = null
  do {
    const page: { items: Array<{ id: string; station?: string }>; next: string | null } = await admin(
      base,
      'GET',
      `/alerts?state=open&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    )
    out.push(...page.items)
    cursor = page.next
  } while (cursor)
  return out
}

async function waitOpen(base: string, count: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if ((await openAlerts(base)).length >= count) return
    await sleep(200)
  }
  throw new Error(`fewer than ${count} alerts open after 120 s`)
}

interface PushResult {
  browser: number[]
  worst: number[]
  sse: number[]
  missing: number
}

/**
 * Publishes one breaching reading per station in [from, from + n), `gapMs` apart, and measures
 * publish -> row on screen in every page, then resolves those alerts so the board is back to
 * its size.
 */
async function pushPhase(
  base: string,
  clients: mqtt.MqttClient[],
  pages: Page[],
  from: number,
  n: number,
  gapMs: number,
): Promise<PushResult> {
  const sse = sseClient(base)
  await sleep(500)
  const publishedAt = new Map<string, number>()
  for (let i = from; i < from + n; i++) {
    publishedAt.set(station(i), Date.now())
    await publishLevel(clients[i]!, i, 1.5)
    await sleep(gapMs)
  }
  const ids = () => [...publishedAt.keys()].map((s) => sse.opened.get(s)?.id).filter((id): id is string => !!id)
  for (let t = 0; t < 120 && ids().length < n; t++) await sleep(500)
  const want = ids()
  let seen: Array<Record<string, number>> = []
  for (let t = 0; t < 60; t++) {
    seen = await Promise.all(pages.map(seenRows))
    if (seen.every((s) => want.every((id) => id in s))) break
    await sleep(1000)
  }
  sse.close()
  const res: PushResult = { browser: [], worst: [], sse: [], missing: (n - want.length) * pages.length }
  for (const [st, at] of publishedAt) {
    const ev = sse.opened.get(st)
    if (!ev) continue
    res.sse.push(ev.at - at)
    let worst = 0
    for (const s of seen) {
      const shown = s[ev.id]
      if (shown === undefined) {
        res.missing++
        continue
      }
      res.browser.push(shown - at)
      worst = Math.max(worst, shown - at)
    }
    res.worst.push(worst)
  }
  for (const id of want) await admin(base, 'POST', `/alerts/${encodeURIComponent(id)}/resolve`, { note: 'bench' })
  return res
}

function jsSize(): { files: number; raw: number; gzip: number } {
  const dir = join(DEFAULT_DIST, 'assets')
  const files = readdirSync(dir).filter((f) => f.endsWith('.js'))
  let raw = 0
  let gzip = 0
  for (const f of files) {
    const body = readFileSync(join(dir, f))
    raw += body.length
    gzip += gzipSync(body).length
  }
  return { files: files.length, raw, gzip }
}

const line = (label: string, r: PushResult) =>
  `  ${label.padEnd(12)} row on screen p50 ${ms(pct(r.browser, 50))}, p99 ${ms(pct(r.browser, 99))}, max ${ms(Math.max(...r.browser))} ` +
  `(${r.browser.length} rows; slowest session per alert p50 ${ms(pct(r.worst, 50))}, p99 ${ms(pct(r.worst, 99))}; ${r.missing} missing)` +
  `\n  ${''.padEnd(12)} peer, SSE event in a Node client: p50 ${ms(pct(r.sse, 50))}, p99 ${ms(pct(r.sse, 99))}; ratio screen/SSE p50 ${(pct(r.browser, 50) / pct(r.sse, 50)).toFixed(1)}x, p99 ${(pct(r.browser, 99) / pct(r.sse, 99)).toFixed(1)}x`

export async function main(args: string[]): Promise<void> {
  const board = arg(args, 'board', 200)
  const runs = arg(args, 'runs', 7)
  const alerts = arg(args, 'alerts', 100)
  const sessions = arg(args, 'sessions', 50)
  const gapMs = arg(args, 'gap', 500)
  await ensureConsoleBuilt()
  const size = jsSize()

  const dir = tempDir('iocgw-bench-console-')
  const gw = await startGatewayChild(dir.path, writeConfig(dir.path, board + 2 * alerts))
  const base = `http://127.0.0.1:${gw.ports.http}`
  let browser: Browser | undefined
  let cookie = ''
  const contexts: BrowserContext[] = []
  const clients: mqtt.MqttClient[] = []
  try {
    await admin(base, 'POST', '/users', { name: OFFICER.name, role: 'officer', password: OFFICER.password })
    clients.push(...(await gauges(base, `mqtt://127.0.0.1:${gw.ports.mqtt}`, board + 2 * alerts)))
    // The board's alerts: levels I, II and III in turn, so every severity is on it.
    for (let i = 0; i < board; i++) await publishLevel(clients[i]!, i, [1.5, 2.5, 4.0][i % 3]!)
    await waitOpen(base, board)
    browser = await launch()
    console.log(`console: ${board} open alerts, Chromium ${browser.version()}, board at 1366x768, logged in as an officer`)

    const loads: BoardLoad[] = []
    cookie = await logIn(base, OFFICER.name, OFFICER.password)
    for (let r = 0; r < runs; r++) {
      const context = await sessionContext(browser, base, cookie, board)
      loads.push((await openBoard(context, base)).load)
      await context.close()
    }
    const boardMs = median(loads.map((l) => l.paintedMs))
    const apiMs = median(loads.map((l) => l.alertsFetchMs))
    console.log(
      `  board       navigation -> ${board} rows, first Acknowledge enabled, frame drawn: median ${ms(boardMs)} ` +
        `(rows in DOM ${ms(median(loads.map((l) => l.interactiveMs)))}; ${runs} runs, each a new context, min ${ms(Math.min(...loads.map((l) => l.paintedMs)))}, max ${ms(Math.max(...loads.map((l) => l.paintedMs)))})`,
    )
    const cost = (k: 'scriptMs' | 'styleMs' | 'layoutMs' | 'taskMs' | 'threadCpuMs' | 'processCpuMs') => ms(median(loads.map((l) => l[k])))
    console.log(
      `  page        main thread until then (medians): script ${cost('scriptMs')}, style ${cost('styleMs')}, layout ${cost('layoutMs')}, all tasks ${cost('taskMs')}; ` +
        `CPU: main thread ${cost('threadCpuMs')}, renderer process ${cost('processCpuMs')}`,
    )
    console.log(
      `  peer        the page's GET /api/v1/alerts?state=open: median ${ms(apiMs)}; ratio board/API ${(boardMs / apiMs).toFixed(1)}x; goal board < ${GOALS.boardMs} ms: ${met(boardMs < GOALS.boardMs)}`,
    )

    if (alerts > 0) await pushes()
    const kb = size.gzip / 1024
    console.log(
      `js: ${size.files} files, ${(size.raw / 1024).toFixed(1)} KB, ${kb.toFixed(1)} KB gzip; goal < ${GOALS.jsKb} KB gzip: ${met(kb < GOALS.jsKb)}`,
    )
  } finally {
    for (const c of contexts) await c.close().catch(() => {})
    await browser?.close()
    await Promise.all(clients.map((c) => c.endAsync().catch(() => {})))
    await gw.stop()
    dir.remove()
  }

  async function pushes(): Promise<void> {
    const one = await sessionContext(browser!, base, cookie, board)
    contexts.push(one)
    const first = await openBoard(one, base)
    const single = await pushPhase(base, clients, [first.page], board, alerts, gapMs)
    console.log(
      `push: ${alerts} alerts opened by MQTT readings, one every ${gapMs} ms, ${board} alerts already on the board; publish -> row on screen:`,
    )
    console.log(line('1 session', single))

    const pages = [first.page]
    // Seven at a time: the sessions' own logins (scrypt) and board loads, not part of any figure.
    for (let s = 1; s < sessions; s += 7) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(7, sessions - s) }, async () => {
          const context = await sessionContext(browser!, base, await logIn(base, OFFICER.name, OFFICER.password), board)
          contexts.push(context)
          return (await openBoard(context, base)).page
        }),
      )
      pages.push(...batch)
    }
    const many = await pushPhase(base, clients, pages, board + alerts, alerts, gapMs)
    console.log(line(`${sessions} sessions`, many))
    console.log(`  goal p99 < ${GOALS.pushP99Ms} ms with ${sessions} sessions: ${met(pct(many.browser, 99) < GOALS.pushP99Ms)}`)
  }
}
