import { readFileSync } from 'node:fs'
import { request } from 'node:https'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { selfSignedCert } from '../support/certs.ts'
import { requireCommand, tempDir } from '../support/services.ts'
import { bearer, login, makeApi, type TestApi } from './support.ts'

// Console sessions for people (docs/api.md, "Console sessions"): real API, real SQLite registry,
// real scrypt. Users are made through the registry here; the /users routes have their own test.

const SYSTEM = { type: 'system' as const, id: 'test' }
const PASSWORD = 'sông Hương 2026'

let api: TestApi
let clock = Date.parse('2026-10-01T00:00:00Z')

beforeAll(async () => {
  api = await makeApi({ sessionIdleMinutes: 1, now: () => clock })
  await api.registry.users.createUser({ name: 'lan', role: 'technician', password: PASSWORD }, SYSTEM)
  await api.registry.users.createUser({ name: 'minh', role: 'viewer', password: PASSWORD }, SYSTEM)
  await api.registry.users.createUser({ name: 'hoa', role: 'officer', password: PASSWORD }, SYSTEM)
})
afterAll(async () => api?.close())

const get = (url: string, headers: Record<string, string> = {}) => api.app.inject({ method: 'GET', url, headers })
const post = (url: string, headers: Record<string, string>, payload: object) => api.app.inject({ method: 'POST', url, headers, payload })

describe('login', () => {
  it('sets an HttpOnly, SameSite=Strict session cookie and answers the user and a CSRF token', async () => {
    const res = await api.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'lan', password: PASSWORD } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ user: { name: 'lan', role: 'technician', districts: [], stations: [] }, csrfToken: expect.any(String) })
    const cookie = String(res.headers['set-cookie'])
    expect(cookie).toMatch(/^iocgw_session=[A-Za-z0-9_-]{40,};/)
    const attrs = cookie.split(';').map((a) => a.trim())
    expect(attrs).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Path=/']))
    // Plain HTTP: a Secure cookie would never come back.
    expect(attrs).not.toContain('Secure')
    const me = await get('/api/v1/auth/me', { cookie: cookie.split(';')[0] as string })
    expect(me.statusCode).toBe(200)
    expect(me.json()).toEqual(res.json())
    expect((await api.registry.listAudit({ limit: 5 })).items.find((e) => e.action === 'user.login')).toMatchObject({
      actor_type: 'user',
      actor_name: 'lan',
      target: 'lan',
    })
  })

  it('answers an unknown user, a wrong password and a disabled user alike', async () => {
    await api.registry.users.createUser({ name: 'gone', role: 'viewer', password: PASSWORD }, SYSTEM)
    await api.registry.users.updateUser('gone', { disabled: true }, SYSTEM)
    const answers = []
    for (const payload of [
      { username: 'nobody', password: PASSWORD },
      { username: 'lan', password: 'wrong password!' },
      { username: 'gone', password: PASSWORD },
    ]) {
      const res = await api.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload })
      answers.push({ status: res.statusCode, body: res.body, cookie: res.headers['set-cookie'] })
    }
    expect(answers[0]).toEqual({
      status: 401,
      body: JSON.stringify({ statusCode: 401, error: 'Unauthorized', message: 'wrong username or password' }),
      cookie: undefined,
    })
    expect(answers[1]).toEqual(answers[0])
    expect(answers[2]).toEqual(answers[0])
  })

  it('accepts the name in any case and without surrounding blanks', async () => {
    expect((await login(api.app, ' Lan ', PASSWORD)).cookie).toMatch(/^iocgw_session=/)
  })
})

describe('a cookie session on the API', () => {
  it('is accepted on every route with the role table of tokens', async () => {
    const viewer = await login(api.app, 'minh', PASSWORD)
    expect((await get('/api/v1/devices', { cookie: viewer.cookie })).statusCode).toBe(200)
    const refused = await post('/api/v1/devices', viewer.write, { kind: 'water_level', name: 'x' })
    expect(refused.statusCode).toBe(403)
    expect(refused.json().message).toMatch(/user "minh" has role viewer/)
    expect((await get('/api/v1/tokens', { cookie: viewer.cookie })).statusCode).toBe(403)
    expect((await get('/api/v1/devices')).statusCode).toBe(401)
    expect((await get('/api/v1/auth/me')).statusCode).toBe(401)
  })

  it('refuses a state-changing request without the CSRF token, and records the user in the audit log with it', async () => {
    const lan = await login(api.app, 'lan', PASSWORD)
    const body = { id: 'csrf-gauge-1', kind: 'water_level', name: 'Kim Long' }
    const none = await post('/api/v1/devices', { cookie: lan.cookie }, body)
    expect(none.statusCode).toBe(403)
    expect(none.json()).toMatchObject({ statusCode: 403, message: expect.stringMatching(/^CSRF token missing or wrong/) })
    const wrong = await post(
      '/api/v1/devices',
      { cookie: lan.cookie, 'x-csrf-token': `${lan.csrf.slice(0, -1)}${lan.csrf.endsWith('x') ? 'y' : 'x'}` },
      body,
    )
    expect(wrong.statusCode).toBe(403)
    for (const method of ['PATCH', 'DELETE'] as const) {
      expect(
        (
          await api.app.inject({
            method,
            url: '/api/v1/devices/csrf-gauge-1',
            headers: { cookie: lan.cookie },
            ...(method === 'PATCH' ? { payload: { name: 'y' } } : {}),
          })
        ).statusCode,
      ).toBe(403)
    }
    expect(await api.registry.getDevice('csrf-gauge-1')).toBeUndefined()
    const ok = await post('/api/v1/devices', lan.write, body)
    expect(ok.statusCode).toBe(201)
    const entry = (await api.registry.listAudit({ limit: 20 })).items.find(
      (e) => e.action === 'device.create' && e.target === 'csrf-gauge-1',
    )
    expect(entry).toMatchObject({ actor_type: 'user', actor_name: 'lan' })
    // Machines send no CSRF token: a bearer token cannot be sent by another site's page.
    const byToken = await post(
      '/api/v1/devices',
      { ...bearer(api.tokens.technician), cookie: lan.cookie },
      { id: 'csrf-gauge-2', kind: 'water_level', name: 'x' },
    )
    expect(byToken.statusCode).toBe(201)
  })
})

describe('revocation', () => {
  it('logout ends the session on the server: the old cookie answers 401', async () => {
    const s = await login(api.app, 'minh', PASSWORD)
    const withoutCsrf = await api.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { cookie: s.cookie } })
    expect(withoutCsrf.statusCode).toBe(403)
    const out = await api.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: s.write })
    expect(out.statusCode).toBe(204)
    expect(String(out.headers['set-cookie'])).toMatch(/^iocgw_session=;.*Max-Age=0/)
    const after = await get('/api/v1/devices', { cookie: s.cookie })
    expect(after.statusCode).toBe(401)
    expect(after.json().message).toMatch(/session has ended/)
    expect((await get('/api/v1/auth/me', { cookie: s.cookie })).statusCode).toBe(401)
    expect((await api.registry.listAudit({ limit: 5 })).items[0]).toMatchObject({ action: 'user.logout', actor_name: 'minh' })
  })

  it("a password change ends the user's other sessions, keeps this one, and the old password stops working", async () => {
    await api.registry.users.createUser({ name: 'tuan', role: 'viewer', password: PASSWORD }, SYSTEM)
    const a = await login(api.app, 'tuan', PASSWORD)
    const b = await login(api.app, 'tuan', PASSWORD)
    const wrong = await post('/api/v1/auth/password', a.write, { current: 'not it at all', next: 'mật khẩu mới 2026' })
    expect(wrong.statusCode).toBe(403)
    const short = await post('/api/v1/auth/password', a.write, { current: PASSWORD, next: 'short' })
    expect(short.statusCode).toBe(400)
    expect(short.json().message).toMatch(/at least 10 characters/)
    const changed = await post('/api/v1/auth/password', a.write, { current: PASSWORD, next: 'mật khẩu mới 2026' })
    expect(changed.statusCode).toBe(204)
    expect((await get('/api/v1/devices', { cookie: a.cookie })).statusCode).toBe(200)
    expect((await get('/api/v1/devices', { cookie: b.cookie })).statusCode).toBe(401)
    await expect(login(api.app, 'tuan', PASSWORD)).rejects.toThrow(/401/)
    await login(api.app, 'tuan', 'mật khẩu mới 2026')
  })

  it('disabling a user and changing their role end their sessions', async () => {
    await api.registry.users.createUser({ name: 'nam', role: 'officer', password: PASSWORD }, SYSTEM)
    const s = await login(api.app, 'nam', PASSWORD)
    await api.registry.users.updateUser('nam', { role: 'viewer' }, SYSTEM)
    expect((await get('/api/v1/devices', { cookie: s.cookie })).statusCode).toBe(401)
    const t = await login(api.app, 'nam', PASSWORD)
    await api.registry.users.updateUser('nam', { disabled: true }, SYSTEM)
    expect((await get('/api/v1/devices', { cookie: t.cookie })).statusCode).toBe(401)
  })

  it('a session unused for sessionIdleMinutes answers 401; one in use stays', async () => {
    const s = await login(api.app, 'hoa', PASSWORD)
    clock += 50_000
    expect((await get('/api/v1/devices', { cookie: s.cookie })).statusCode).toBe(200)
    clock += 50_000
    // 100 s after login, but 50 s after last use: still alive.
    expect((await get('/api/v1/devices', { cookie: s.cookie })).statusCode).toBe(200)
    clock += 61_000
    expect((await get('/api/v1/devices', { cookie: s.cookie })).statusCode).toBe(401)
    expect((await get('/api/v1/auth/me', { cookie: s.cookie })).statusCode).toBe(401)
  })

  it('removes expired sessions that are never presented again at the next login', async () => {
    const db = new Database(join(api.dataDir, 'registry.db'), { readonly: true })
    const count = (name: string) =>
      (db.prepare('SELECT count(*) AS n FROM user_sessions s JOIN users u ON u.id = s.user_id WHERE u.name = ?').get(name) as { n: number })
        .n
    try {
      await login(api.app, 'minh', PASSWORD)
      expect(count('minh')).toBeGreaterThanOrEqual(1)
      clock += 120_000
      await login(api.app, 'lan', PASSWORD)
      expect(count('minh')).toBe(0)
      expect(count('lan')).toBe(1)
    } finally {
      db.close()
    }
  })
})

describe('maximum session age', () => {
  it('ends a session sessionMaxHours after login however busy it is', async () => {
    let t = Date.parse('2026-10-01T00:00:00Z')
    const busy = await makeApi({ allRoutes: false, sessionIdleMinutes: 1440, sessionMaxHours: 1, now: () => t })
    try {
      await busy.registry.users.createUser({ name: 'lan', role: 'viewer', password: PASSWORD }, SYSTEM)
      const s = await login(busy.app, 'lan', PASSWORD)
      const use = async () => (await busy.app.inject({ method: 'GET', url: '/api/v1/devices', headers: { cookie: s.cookie } })).statusCode
      t += 59 * 60_000
      expect(await use()).toBe(200)
      t += 2 * 60_000
      expect(await use()).toBe(401)
    } finally {
      await busy.close()
    }
  })
})

describe('secrets of people', () => {
  it('never writes a password, session id or CSRF token to the log or the audit log, nor answers a password hash', async () => {
    const s = await login(api.app, 'lan', PASSWORD)
    await api.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'lan', password: 'a wrong guess 12345' } })
    const secrets = [PASSWORD, 'mật khẩu mới 2026', 'a wrong guess 12345', s.cookie.split('=')[1] as string, s.csrf]
    expect(api.logs.some((line) => line.includes('/api/v1/auth/login'))).toBe(true)
    expect(api.logs.filter((line) => secrets.some((x) => line.includes(x)))).toEqual([])
    const audit = JSON.stringify((await api.registry.listAudit({ limit: 500 })).items)
    expect(secrets.filter((x) => audit.includes(x))).toEqual([])
    const users = await api.app.inject({ method: 'GET', url: '/api/v1/users', headers: bearer(api.tokens.admin) })
    expect(users.statusCode).toBe(200)
    expect(users.body).not.toMatch(/scrypt|password/)
  })
})

describe('failed-login rate limits', () => {
  let limited: TestApi
  beforeAll(async () => {
    limited = await makeApi({ authFailuresPerMinute: 5, loginFailuresPerUserPerMinute: 3, allRoutes: false })
    await limited.registry.users.createUser({ name: 'lan', role: 'viewer', password: PASSWORD }, SYSTEM)
    await limited.registry.users.createUser({ name: 'binh', role: 'viewer', password: PASSWORD }, SYSTEM)
  })
  afterAll(async () => limited?.close())
  const attempt = (username: string, password: string, remoteAddress: string) =>
    limited.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password }, remoteAddress })

  it('per address: 429 with Retry-After once an address failed too often, even for a right password', async () => {
    const statuses = []
    for (let i = 0; i < 5; i++) statuses.push((await attempt(`guess-${i}`, 'wrong password', '10.0.0.1')).statusCode)
    expect(statuses).toEqual([401, 401, 401, 401, 401])
    const blocked = await attempt('binh', PASSWORD, '10.0.0.1')
    expect(blocked.statusCode).toBe(429)
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0)
    expect((await attempt('binh', PASSWORD, '10.0.0.2')).statusCode).toBe(200)
  })

  it('per user name: 429 once a name failed too often, from whatever addresses', async () => {
    for (let i = 0; i < 3; i++) expect((await attempt('lan', 'wrong password', `10.1.0.${i}`)).statusCode).toBe(401)
    const blocked = await attempt('lan', PASSWORD, '10.1.0.99')
    expect(blocked.statusCode).toBe(429)
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0)
    expect((await attempt('binh', PASSWORD, '10.1.0.99')).statusCode).toBe(200)
  })
})

const hasOpenssl = requireCommand('openssl')
describe.runIf(hasOpenssl)('over HTTPS', () => {
  it('marks the session cookie Secure', async () => {
    const dir = tempDir()
    const { cert, key } = selfSignedCert(dir.path)
    const tls = await makeApi({ allRoutes: false, fastify: { https: { cert: readFileSync(cert), key: readFileSync(key) } } as never })
    try {
      await tls.registry.users.createUser({ name: 'lan', role: 'viewer', password: PASSWORD }, SYSTEM)
      const url = await tls.app.listen({ port: 0, host: '127.0.0.1' })
      const setCookie = await new Promise<string>((resolve, reject) => {
        const req = request(
          `${url}/api/v1/auth/login`,
          { method: 'POST', ca: readFileSync(cert), headers: { 'content-type': 'application/json' } },
          (res) => {
            res.resume()
            resolve(String(res.headers['set-cookie']))
          },
        )
        req.on('error', reject)
        req.end(JSON.stringify({ username: 'lan', password: PASSWORD }))
      })
      expect(url.startsWith('https://')).toBe(true)
      expect(setCookie.split(';').map((a) => a.trim())).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Path=/', 'Secure']))
    } finally {
      await tls.close()
      dir.remove()
    }
  })
})
