import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runIocgw } from '../support/cli.ts'
import { BIN, ROOT } from '../support/gateway-process.ts'
import { freePort, tempDir, waitFor } from '../support/services.ts'
import { makeApi, type TestApi } from '../api/support.ts'

// The real bin, as a user runs it, against a real API on a socket.

let api: TestApi
let url: string

beforeAll(async () => {
  api = await makeApi({ allRoutes: false })
  url = await api.app.listen({ port: 0, host: '127.0.0.1' })
})
afterAll(async () => api?.close())

// Asynchronous on purpose: the API under test runs in this process and must keep answering.
const iocgw = (args: string[], env: Record<string, string | undefined> = {}) => runIocgw(args, { IOC_API_URL: url, ...env })
const as = (role: keyof TestApi['tokens']) => ({ IOC_TOKEN: api.tokens[role] })

/** Column start offsets of a table header, by code points. */
function columnStarts(line: string): number[] {
  const starts: number[] = []
  const chars = [...line]
  for (let i = 0; i < chars.length; i++) if (chars[i] !== ' ' && (i === 0 || (chars[i - 1] === ' ' && chars[i - 2] === ' '))) starts.push(i)
  return starts
}

describe('iocgw device and token commands', () => {
  it('adds, lists, shows, rotates and removes a device', async () => {
    const add = await iocgw(
      [
        'device',
        'add',
        '--id',
        'cli-wl-1',
        '--kind',
        'water_level',
        '--name',
        'Trạm Kim Long',
        '--station',
        'kim-long',
        '--district',
        'Phú Xuân',
        '--lat',
        '16.46',
        '--lon',
        '107.55',
        '--tag',
        'sông Hương',
        '--tag',
        'trọng điểm',
      ],
      as('technician'),
    )
    expect(add.stderr).toBe('')
    expect(add.code).toBe(0)
    expect(add.stdout).toMatch(/device cli-wl-1 registered \(water_level, "Trạm Kim Long"\)/)
    const password = /password:\s+(\S+)/.exec(add.stdout)?.[1] as string
    expect(password.length).toBeGreaterThanOrEqual(22)
    expect(add.stdout).toMatch(/url:\s+mqtt:\/\/127\.0\.0\.1:1883/)
    expect(await api.registry.authenticateDevice('cli-wl-1', password)).toMatchObject({ ok: true })

    const addJson = await iocgw(
      ['device', 'add', '--id', 'cli-cam-1', '--kind', 'camera', '--name', 'Cầu Trường Tiền', '--json'],
      as('admin'),
    )
    expect(addJson.code).toBe(0)
    const created = JSON.parse(addJson.stdout) as { device: { id: string }; credentials: { username: string; password: string } }
    expect(created.device.id).toBe('cli-cam-1')
    expect(created.credentials.username).toBe('cli-cam-1')

    const list = await iocgw(['device', 'list'], as('viewer'))
    expect(list.code).toBe(0)
    const lines = list.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^ID\s+KIND\s+NAME\s+STATION\s+DISTRICT\s+STATE$/)
    const header = columnStarts(lines[0] as string)
    const row = lines.find((l) => l.startsWith('cli-wl-1')) as string
    expect(row).toBeDefined()
    // Every value starts under its header, Vietnamese names included.
    for (const [i, value] of ['cli-wl-1', 'water_level', 'Trạm Kim Long', 'kim-long', 'Phú Xuân', 'active'].entries()) {
      expect([...row].slice(header[i]).join('').startsWith(value), `${value} under column ${i}`).toBe(true)
    }

    const listJson = await iocgw(['device', 'list', '--json'], as('viewer'))
    const page = JSON.parse(listJson.stdout) as { items: Array<{ id: string }>; next: string | null }
    expect(page.items.map((d) => d.id)).toEqual(expect.arrayContaining(['cli-wl-1', 'cli-cam-1']))
    expect(page.next).toBeNull()
    const cams = JSON.parse((await iocgw(['device', 'list', '--kind', 'camera', '--json'], as('viewer'))).stdout) as typeof page
    expect(cams.items.map((d) => d.id)).toEqual(['cli-cam-1'])

    const show = await iocgw(['device', 'show', 'cli-wl-1'], as('officer'))
    expect(show.code).toBe(0)
    expect(show.stdout).toMatch(/^name:\s+Trạm Kim Long$/m)
    expect(show.stdout).toMatch(/^location:\s+16\.46, 107\.55$/m)
    expect(show.stdout).not.toContain(password)

    const rot = await iocgw(['device', 'rotate-secret', 'cli-wl-1', '--json'], as('technician'))
    expect(rot.code).toBe(0)
    const fresh = (JSON.parse(rot.stdout) as { credentials: { password: string } }).credentials.password
    expect(fresh).not.toBe(password)
    expect(await api.registry.authenticateDevice('cli-wl-1', password)).toMatchObject({ ok: false })
    expect(await api.registry.authenticateDevice('cli-wl-1', fresh)).toMatchObject({ ok: true })

    const rm = await iocgw(['device', 'remove', 'cli-wl-1'], as('technician'))
    expect(rm.code).toBe(0)
    expect(rm.stdout).toMatch(/device cli-wl-1 removed: decommissioned/)
    const after = JSON.parse((await iocgw(['device', 'show', 'cli-wl-1', '--json'], as('viewer'))).stdout) as { state: string }
    expect(after.state).toBe('decommissioned')
  })

  it('creates a token that works', async () => {
    const res = await iocgw(['token', 'create', '--role', 'viewer', '--name', 'wall screen', '--json'], as('admin'))
    expect(res.code).toBe(0)
    const tok = JSON.parse(res.stdout) as { id: string; role: string; name: string; token: string }
    expect(tok).toMatchObject({ role: 'viewer', name: 'wall screen' })
    const list = await iocgw(['device', 'list', '--json'], { IOC_TOKEN: tok.token })
    expect(list.code).toBe(0)
    const plain = await iocgw(['token', 'create', '--role', 'technician'], as('admin'))
    expect(plain.code).toBe(0)
    expect(plain.stdout).toMatch(/shown only now/)
    expect(plain.stdout).toMatch(/^ {2}iocgw_\S+$/m)

    const tokens = await iocgw(['token', 'list'], as('admin'))
    expect(tokens.code).toBe(0)
    expect(tokens.stdout).toMatch(/^ID\s+ROLE\s+NAME\s+CREATED\s+LAST USED$/m)
    expect(tokens.stdout).toContain('wall screen')
    expect(tokens.stdout).not.toContain(tok.token)
    const del = await iocgw(['token', 'delete', tok.id], as('admin'))
    expect(del.code).toBe(0)
    const gone = await iocgw(['device', 'list'], { IOC_TOKEN: tok.token })
    expect(gone.code).toBe(1)
    expect(gone.stderr).toMatch(/401/)
  })

  it('updates a device and pages with --limit', async () => {
    await iocgw(['device', 'add', '--id', 'cli-rg-1', '--kind', 'rain_gauge', '--name', 'Bình Điền'], as('technician'))
    await iocgw(['device', 'add', '--id', 'cli-rg-2', '--kind', 'rain_gauge', '--name', 'Cổ Bi'], as('technician'))
    const upd = await iocgw(['device', 'update', 'cli-rg-1', '--state', 'disabled', '--station', 'binh-dien', '--json'], as('technician'))
    expect(upd.code).toBe(0)
    expect(JSON.parse(upd.stdout)).toMatchObject({ id: 'cli-rg-1', state: 'disabled', station: 'binh-dien' })
    const one = await iocgw(['device', 'list', '--kind', 'rain_gauge', '--limit', '1'], as('viewer'))
    expect(one.code).toBe(0)
    expect(one.stdout.trim().split('\n')).toHaveLength(3)
    expect(one.stdout).toMatch(/more/)
    const badLimit = await iocgw(['device', 'list', '--limit', 'lots'], as('viewer'))
    expect(badLimit.code).toBe(1)
    expect(badLimit.stderr).toMatch(/querystring\/limit/)
  })

  it('fails clearly: bad token, wrong role, bad input, no token, unreachable API', async () => {
    const bad = await iocgw(['device', 'list'], { IOC_TOKEN: 'iocgw_wrong-token-xxxxxxxxxxxx' })
    expect(bad.code).toBe(1)
    expect(bad.stdout).toBe('')
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
    expect(bad.stderr).toMatch(/^iocgw: 401 Unauthorized: the bearer token is not valid/)

    const role = await iocgw(['device', 'add', '--kind', 'camera', '--name', 'x'], as('viewer'))
    expect(role.code).toBe(1)
    expect(role.stderr).toMatch(/403 Forbidden: .*roles admin, technician/)

    const input = await iocgw(['device', 'add', '--id', 'A', '--kind', 'camera', '--name', 'x'], as('admin'))
    expect(input.code).toBe(1)
    expect(input.stderr).toMatch(/400 Bad Request: body\/id must match/)

    const kind = await iocgw(['device', 'add', '--kind', 'radar', '--name', 'x'], as('admin'))
    expect(kind.code).toBe(1)
    expect(kind.stderr).toMatch(/--kind/)

    const none = await iocgw(['device', 'list'], {})
    expect(none.code).toBe(1)
    expect(none.stderr).toMatch(/IOC_TOKEN is not set/)

    const port = await freePort()
    const down = await iocgw(['device', 'list'], { ...as('admin'), IOC_API_URL: `http://127.0.0.1:${port}` })
    expect(down.code).toBe(1)
    expect(down.stderr).toMatch(new RegExp(`cannot reach the gateway API at http://127\\.0\\.0\\.1:${port}: is it running\\?`))
  })
})

describe('iocgw start', () => {
  it('refuses a bad flag with one line naming the key', async () => {
    const res = await iocgw(['start', '--http-port', 'eighty'])
    expect(res.code).toBe(1)
    expect(res.stderr.trim().split('\n')).toHaveLength(1)
    expect(res.stderr).toMatch(/^iocgw: config: http\.port: /)
  })

  it('starts with the given ports and data dir, serves, and stops cleanly on SIGTERM', async () => {
    const dir = tempDir('iocgw-cli-start-')
    const [http, mqtt, ws] = [await freePort(), await freePort(), await freePort()]
    const child = spawn(
      process.execPath,
      [
        BIN,
        'start',
        '--data-dir',
        dir.path,
        '--http-port',
        String(http),
        '--mqtt-port',
        String(mqtt),
        '--mqtt-ws-port',
        String(ws),
        '--log-level',
        'warn',
      ],
      { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    let err = ''
    child.stdout.on('data', (b: Buffer) => (out += b.toString()))
    child.stderr.on('data', (b: Buffer) => (err += b.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${http}/healthz`).catch(() => undefined))?.ok, 30_000, 100)
      expect(out).toContain(`:${http}`)
      const token = /Bootstrap admin token[^:]*: (\S+)/.exec(out)?.[1]
      expect(token, out).toBeDefined()
      const res = await fetch(`http://127.0.0.1:${http}/api/v1/tokens`, { headers: { authorization: `Bearer ${token}` } })
      expect(res.status).toBe(200)
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      expect(err).toMatch(/SIGTERM: stopping/)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
      dir.remove()
    }
  })
})
