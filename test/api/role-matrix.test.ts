import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { routeCatalog, type RouteInfo } from '../../gateway/api/server.ts'
import { ROLES, type Role } from '../../gateway/registry/types.ts'
import { makeApi, statusOf, type TestApi } from './support.ts'

// Every registered route × every kind of caller; the expected answer is derived from the route's
// own declared roles, so routes added by other capabilities are covered without editing this file.

type Caller = Role | 'no token' | 'bad token'
const CALLERS: Caller[] = [...ROLES, 'no token', 'bad token']

function expected(route: RouteInfo, caller: Caller): 'allowed' | 401 | 403 {
  if (route.roles === 'public') return 'allowed'
  if (caller === 'no token' || caller === 'bad token') return 401
  if (caller === 'admin' || route.roles.includes(caller)) return 'allowed'
  return 403
}

let api: TestApi
let routes: RouteInfo[]

beforeAll(async () => {
  api = await makeApi()
  routes = routeCatalog(api.app)
})
afterAll(async () => api?.close())

describe('role matrix', () => {
  it('enumerates the routes of every capability, including the core ones', () => {
    const keys = routes.map((r) => `${r.method} ${r.url}`)
    for (const k of [
      'GET /healthz',
      'GET /readyz',
      'GET /metrics',
      'POST /api/v1/devices',
      'GET /api/v1/devices',
      'GET /api/v1/devices/:id',
      'PATCH /api/v1/devices/:id',
      'DELETE /api/v1/devices/:id',
      'POST /api/v1/devices/:id/rotate-secret',
      'POST /api/v1/tokens',
      'GET /api/v1/tokens',
      'DELETE /api/v1/tokens/:id',
    ])
      expect(keys).toContain(k)
  })

  it('answers every route × caller as the route declares', async () => {
    const failures: string[] = []
    let denied = 0
    for (const route of routes) {
      if (route.method === 'HEAD') continue
      for (const caller of CALLERS) {
        const headers: Record<string, string> = {}
        if (caller === 'bad token') headers.authorization = 'Bearer iocgw_not-a-real-token'
        else if (caller !== 'no token') headers.authorization = `Bearer ${api.tokens[caller]}`
        const got = await statusOf(api.app, route, headers)
        const want = expected(route, caller)
        const ok = want === 'allowed' ? got !== 401 && got !== 403 && got !== 429 : got === want
        if (want !== 'allowed') denied++
        if (!ok) failures.push(`${route.method} ${route.url} as ${caller}: got ${got}, want ${want === 'allowed' ? 'not 401/403' : want}`)
      }
    }
    expect(failures).toEqual([])
    expect(denied).toBeGreaterThan(20)
  })

  it('gives 401 a message saying how to authenticate and 403 one naming the allowed roles', async () => {
    const none = await api.app.inject({ method: 'GET', url: '/api/v1/tokens' })
    expect(none.statusCode).toBe(401)
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/)
    expect(none.json()).toMatchObject({ statusCode: 401, error: 'Unauthorized' })
    expect(none.json().message).toMatch(/Authorization: Bearer/)

    const viewer = await api.app.inject({
      method: 'POST',
      url: '/api/v1/devices',
      headers: { authorization: `Bearer ${api.tokens.viewer}` },
      payload: {},
    })
    expect(viewer.statusCode).toBe(403)
    expect(viewer.json().message).toMatch(/admin, technician/)
    expect(viewer.json().message).toMatch(/viewer/)
  })
})
