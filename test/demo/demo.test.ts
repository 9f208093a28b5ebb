import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ensureConsoleBuilt } from '../console/support.ts'
import { ROOT, BIN } from '../support/gateway-process.ts'
import { freePort, tempDir, waitFor } from '../support/services.ts'

// `npm run demo` as a visitor runs it (docs/cli.md): it prints the console's URL and a demo
// officer's login (a password drawn at start, printed once), that login opens a console session
// which sees the Kim Long flood alert; a level-II flood alert for Kim Long within a minute of the
// field starting, live (not late), camera frames analysed, and nothing left in the temporary
// directory once it is stopped.

interface HistoryEntry {
  action: string
  level?: number
  at: string
  late?: boolean
}
interface AlertBody {
  id: string
  kind: string
  station?: string
  level?: number
  late: boolean
  history: HistoryEntry[]
}

describe('npm run demo', () => {
  it('prints the console and an officer login that sees the Kim Long alert, shows level II within a minute, analyses camera frames, and removes its temp dir on SIGTERM', async () => {
    await ensureConsoleBuilt()
    const [http, mq, ws] = [await freePort(), await freePort(), await freePort()]
    const tmp = tempDir('iocgw-demo-test-')
    const spawnedAt = Date.now()
    const child = spawn(
      process.execPath,
      [BIN, 'demo', '--http-port', String(http), '--mqtt-port', String(mq), '--mqtt-ws-port', String(ws)],
      {
        cwd: ROOT,
        env: { ...process.env, TMPDIR: tmp.path, IOC_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let out = ''
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString()
    })
    child.stderr.on('data', (b: Buffer) => {
      out += b.toString()
    })
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
    try {
      await waitFor(() => out.includes('demo: ready') || undefined, 120_000, 100).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${out}`)
      })
      const token = /admin token: ([0-9a-f]+)/.exec(out)![1]
      const since = /running since (\S+)/.exec(out)?.[1]
      const startedAt = since ? Date.parse(since) : spawnedAt
      const dataDir = /(\/\S*iocgw-demo-[^\s/]+)/.exec(out)![1]!
      expect(dataDir.startsWith(tmp.path)).toBe(true)
      expect(existsSync(dataDir)).toBe(true)

      // The console, as the demo announces it, and its login through the API as the console's
      // form sends it (docs/api.md, "Console sessions").
      const consoleUrl = /^\s+console\s+(http\S+)$/m.exec(out)?.[1]
      expect(consoleUrl, out).toBe(`http://127.0.0.1:${http}/`)
      const [, name, password] = /^\s+login\s+(\S+) \/ (\S+)/m.exec(out) ?? []
      expect(name).toBe('truc.ban')
      expect(password!.length).toBeGreaterThanOrEqual(20)
      expect(out.split(password!).length - 1, 'the password is printed once').toBe(1)
      const page = await fetch(consoleUrl!)
      expect(page.status).toBe(200)
      expect(page.headers.get('content-type')).toContain('text/html')
      const login = await fetch(`${consoleUrl}api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: name, password }),
      })
      expect(login.status).toBe(200)
      expect(((await login.json()) as { user: { role: string } }).user.role).toBe('officer')
      const cookie = /iocgw_session=[^;]+/.exec(login.headers.get('set-cookie') ?? '')?.[0]
      expect(cookie).toBeTruthy()
      const seen = await waitFor(
        async () => {
          const res = await fetch(`${consoleUrl}api/v1/alerts?state=open&kind=water_level&station=kim-long`, {
            headers: { cookie: cookie! },
          })
          expect(res.status).toBe(200)
          return ((await res.json()) as { items: AlertBody[] }).items[0]
        },
        150_000,
        500,
      )
      expect(seen.station).toBe('kim-long')

      const get = async <T>(p: string) =>
        (await (await fetch(`http://127.0.0.1:${http}/api/v1${p}`, { headers: { authorization: `Bearer ${token}` } })).json()) as T

      // Generous waits for a loaded machine; the requirement itself is checked on the gateway's
      // own timestamps: the change to level II within 60 s of the field starting.
      const alert = await waitFor(
        async () => {
          const page = await get<{ items: AlertBody[] }>('/alerts?kind=water_level&station=kim-long')
          return page.items.find((a) => a.history.some((h) => h.level === 2))
        },
        150_000,
        500,
      )
      const toII = alert.history.find((h) => h.level === 2)!
      expect(Date.parse(toII.at) - startedAt, 'level II shown within one minute of the field starting').toBeLessThanOrEqual(60_000)
      expect(alert.history[0]).toMatchObject({ action: 'opened' })
      expect(alert.late).toBe(false)
      expect(alert.history.map((h) => h.late)).not.toContain(true)

      const detections = await waitFor(
        async () => {
          const page = await get<{ items: Array<{ camera: string; counts: Record<string, number> }> }>('/cameras/demo-cam-1/detections')
          return page.items?.length > 0 ? page.items : undefined
        },
        150_000,
        500,
      )
      expect(detections[0]!.camera).toBe('demo-cam-1')
      expect(out).toMatch(/demo: cameras replay \d+ sample photos/)

      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      expect(existsSync(dataDir)).toBe(false)
      expect(readdirSync(tmp.path).filter((f) => f.startsWith('iocgw-demo-'))).toEqual([])
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
      tmp.remove()
    }
  }, 360_000)
})
