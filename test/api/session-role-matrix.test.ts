import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { routeCatalog, type RouteInfo } from '../../gateway/api/server.ts'
import { ROLES, type Role } from '../../gateway/registry/types.ts'
import { login, makeApi, statusOf, type TestApi, type TestSession } from './support.ts'

// The role matrix of role-matrix.test.ts with console sessions instead of tokens (docs/api.md:
// "every route takes either, with the same table"), and CSRF refusal on every state-changing route.

const PASSWORD = 'mười ký tự trở lên'
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS'])
let api: TestApi
let routes: RouteInfo[]
const sessions = {} as Record<Role, TestSession>

beforeAll(async () => {
  api = await makeApi()
  routes = routeCatalog(api.app).filter((r) => r.roles !== 'public' && r.method !== 'HEAD')
  for (const role of ROLES) {
    await api.registry.users.createUser({ name: `user-${role}`, role, password: PASSWORD }, { type: 'system', id: 'test' })
    sessions[role] = await login(api.app, `user-${role}`, PASSWORD)
  }
})
afterAll(async () => api?.close())

const status = (route: RouteInfo, headers: Record<string, string>) => statusOf(api.app, route, headers)

describe('role matrix with console sessions', () => {
  it('answers every route × role as the route declares', async () => {
    const failures: string[] = []
    // Logout would end the sessions the rest uses: it comes last.
    const logout = routes.find((r) => r.url === '/api/v1/auth/logout')!
    for (const route of [...routes.filter((r) => r !== logout), logout]) {
      for (const role of ROLES) {
        const allowed = role === 'admin' || (route.roles as readonly Role[]).includes(role)
        const got = await status(route, sessions[role].write)
        const ok = allowed ? got !== 401 && got !== 403 && got !== 429 : got === 403
        if (!ok) failures.push(`${route.method} ${route.url} as ${role}: got ${got}, want ${allowed ? 'not 401/403' : 403}`)
      }
    }
    expect(failures).toEqual([])
  })

  it('refuses every state-changing route without the CSRF token, even to an admin', async () => {
    const admin = await login(api.app, 'user-admin', PASSWORD)
    const writes = routes.filter((r) => !SAFE.has(r.method))
    expect(writes.length).toBeGreaterThan(10)
    const failures: string[] = []
    for (const route of writes) {
      const got = await status(route, { cookie: admin.cookie })
      if (got !== 403) failures.push(`${route.method} ${route.url}: got ${got}, want 403`)
    }
    expect(failures).toEqual([])
  })
})
