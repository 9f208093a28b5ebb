import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { login, makeApi, type TestApi } from '../api/support.ts'
import { runIocgw } from '../support/cli.ts'

// `iocgw user` (docs/cli.md) as a user runs it: the real bin against a real API on a socket, the
// password on stdin as a script would give it.

const PASSWORD = 'Thuận Hóa 2026 trực'

let api: TestApi
let url: string
beforeAll(async () => {
  api = await makeApi()
  url = await api.app.listen({ port: 0, host: '127.0.0.1' })
})
afterAll(async () => api?.close())

const iocgw = (args: string[], stdin = '', token = api.tokens.admin) => runIocgw(args, { IOC_API_URL: url, IOC_TOKEN: token }, stdin)

describe('iocgw user', () => {
  it('adds a scoped user whose password works, lists it, changes its password and disables it', async () => {
    const add = await iocgw(
      ['user', 'add', 'lan', '--role', 'officer', '--district', 'Phú Xuân', '--station', 'kim-long', '--password-stdin'],
      `${PASSWORD}\n`,
    )
    expect(add.stderr).toBe('')
    expect(add.code).toBe(0)
    expect(add.stdout).toMatch(/user lan created \(officer; places: district Phú Xuân, station kim-long\)/)
    expect(add.stdout).not.toContain(PASSWORD)
    const s = await login(api.app, 'lan', PASSWORD)

    const list = await iocgw(['user', 'list'])
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(/^NAME\s+ROLE\s+PLACES\s+STATE\s+LAST LOGIN$/m)
    expect(list.stdout).toMatch(/^lan\s+officer\s+district Phú Xuân, station kim-long\s+active\s+20\d\d-/m)
    const json = JSON.parse((await iocgw(['user', 'list', '--json'])).stdout) as { items: Array<{ name: string; districts: string[] }> }
    expect(json.items.find((u) => u.name === 'lan')?.districts).toEqual(['Phú Xuân'])

    const passwd = await iocgw(['user', 'passwd', 'lan'], 'mật khẩu mới rất dài\n')
    expect(passwd.code).toBe(0)
    expect(passwd.stdout).toMatch(/password of lan changed/)
    expect((await api.app.inject({ method: 'GET', url: '/api/v1/devices', headers: { cookie: s.cookie } })).statusCode).toBe(401)
    await expect(login(api.app, 'lan', PASSWORD)).rejects.toThrow(/401/)
    await login(api.app, 'lan', 'mật khẩu mới rất dài')

    const off = await iocgw(['user', 'disable', 'lan'])
    expect(off.code).toBe(0)
    expect(off.stdout).toMatch(/user lan disabled/)
    await expect(login(api.app, 'lan', 'mật khẩu mới rất dài')).rejects.toThrow(/401/)
    expect((await iocgw(['user', 'enable', 'lan'])).code).toBe(0)
    await login(api.app, 'lan', 'mật khẩu mới rất dài')
    expect((await api.registry.listAudit({ limit: 50 })).items.filter((e) => e.target === 'lan').map((e) => e.action)).toEqual(
      expect.arrayContaining(['user.create', 'user.password', 'user.disable', 'user.update', 'user.login']),
    )
  }, 180_000) // nine CLI processes, each loading TypeScript on a busy machine

  it('fails in one line: weak password, existing name, empty stdin, non-admin token', async () => {
    const weak = await iocgw(['user', 'add', 'minh', '--role', 'viewer', '--password-stdin'], 'short\n')
    expect(weak.code).toBe(1)
    expect(weak.stderr).toMatch(/^iocgw: 400 Bad Request: body\/password/)
    expect(weak.stderr.trim().split('\n')).toHaveLength(1)
    await iocgw(['user', 'add', 'minh', '--role', 'viewer', '--password-stdin'], `${PASSWORD}\n`)
    const dup = await iocgw(['user', 'add', 'minh', '--role', 'viewer', '--password-stdin'], `${PASSWORD}\n`)
    expect(dup.stderr).toMatch(/^iocgw: 409 Conflict: user "minh" already exists/)
    const empty = await iocgw(['user', 'passwd', 'minh', '--password-stdin'], '')
    expect(empty.stderr).toMatch(/^iocgw: no password on stdin: give it as the first line/)
    const viewer = await iocgw(['user', 'list'], '', api.tokens.viewer)
    expect(viewer.stderr).toMatch(/^iocgw: 403 Forbidden/)
  }, 180_000)
})
