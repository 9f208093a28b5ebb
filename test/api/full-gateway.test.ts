import { Writable } from 'node:stream'
import Value from 'typebox/value'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type RunningGateway } from '../../gateway/app.ts'
import { ConfigSchema, type GatewayConfig } from '../../gateway/config/schema.ts'
import { ROLES, type Role } from '../../gateway/registry/types.ts'
import { tempDir } from '../support/services.ts'

// The role matrix and the "never a 500" rule over HTTP against the gateway as `iocgw start` wires
// it, with every real dependency. Routes and their roles are read from the published OpenAPI
// document, so whatever the gateway serves is covered.

interface Op {
  method: string
  path: string
  roles: 'public' | Role[]
  hasBody: boolean
  params: string[]
}
type Caller = Role | 'no token' | 'bad token'

const ADMIN = `iocgw_full-gateway-admin-${Math.random().toString(36).slice(2)}`
const dir = tempDir('iocgw-full-')
const logs: string[] = []
let gw: RunningGateway
let base: string
const tokens = { admin: ADMIN } as Record<Role, string>
const ops: Op[] = []

beforeAll(async () => {
  const config = Value.Default(ConfigSchema, {
    server: { dataDir: dir.path, logLevel: 'info' },
    http: { host: '127.0.0.1', port: 0, authFailuresPerMinute: 1_000_000 },
    mqtt: { host: '127.0.0.1', port: 0, wsPort: 0 },
    auth: { adminToken: ADMIN },
  }) as GatewayConfig
  gw = await startGateway({
    config,
    notice: () => {},
    logDestination: new Writable({
      write(c: Buffer, _e, cb) {
        logs.push(...c.toString().split('\n').filter(Boolean))
        cb()
      },
    }),
  })
  base = `http://127.0.0.1:${gw.ports.http}`
  for (const role of ROLES.filter((r) => r !== 'admin')) {
    const res = await fetch(`${base}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role, name: `full ${role}` }),
    })
    expect(res.status).toBe(201)
    tokens[role] = ((await res.json()) as { token: string }).token
  }
  const doc = (await (await fetch(`${base}/docs/json`)).json()) as {
    paths: Record<string, Record<string, { security?: unknown[]; description?: string; requestBody?: unknown }>>
  }
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const declared = /Roles: ([a-z, ]+)\./.exec(op.description ?? '')?.[1]
      const roles = Array.isArray(op.security) && op.security.length === 0 ? 'public' : (declared?.split(', ') as Role[] | undefined)
      if (!roles) throw new Error(`${method.toUpperCase()} ${path}: the OpenAPI document states neither public nor roles`)
      ops.push({
        method: method.toUpperCase(),
        path,
        roles,
        hasBody: op.requestBody !== undefined,
        params: [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string),
      })
    }
  }
}, 120_000)

afterAll(async () => {
  await gw?.close()
  dir.remove()
})

async function call(op: Op, caller: Caller, path = op.path.replace(/\{[^}]+\}/g, 'abc-123')): Promise<number> {
  const headers: Record<string, string> = {}
  if (caller === 'bad token') headers.authorization = 'Bearer iocgw_not-a-real-token'
  else if (caller !== 'no token') headers.authorization = `Bearer ${tokens[caller]}`
  if (op.hasBody) headers['content-type'] = 'application/json'
  const ac = new AbortController()
  const res = await fetch(`${base}${path}`, { method: op.method, headers, ...(op.hasBody ? { body: '{}' } : {}), signal: ac.signal })
  ac.abort() // event streams never end; the status line is what counts
  return res.status
}

describe('the running gateway', () => {
  it('publishes the core routes', () => {
    const keys = ops.map((o) => `${o.method} ${o.path}`)
    expect(keys).toEqual(expect.arrayContaining(['GET /healthz', 'GET /metrics', 'POST /api/v1/devices', 'DELETE /api/v1/tokens/{id}']))
  })

  it('answers every route × caller as declared, and never 500 to an allowed caller', async () => {
    const failures: string[] = []
    for (const op of ops) {
      for (const caller of [...ROLES, 'no token', 'bad token'] as Caller[]) {
        const status = await call(op, caller)
        const allowed =
          op.roles === 'public' || caller === 'admin' || (caller !== 'no token' && caller !== 'bad token' && op.roles.includes(caller))
        const want = allowed ? 'allowed' : caller === 'no token' || caller === 'bad token' ? 401 : 403
        const ok =
          want === 'allowed'
            ? status !== 401 && status !== 403 && status !== 429 && (status < 500 || (op.path === '/readyz' && status === 503))
            : status === want
        if (!ok) failures.push(`${op.method} ${op.path} as ${caller}: ${status}`)
      }
    }
    expect(failures).toEqual([])
  })

  it('refuses odd ids on every route with a param with 400', async () => {
    const failures: string[] = []
    for (const op of ops.filter((o) => o.params.length > 0 && o.roles !== 'public')) {
      for (const odd of ['..%2Fx', 'a%2Fb', '', '%00']) {
        const status = await call(op, 'admin', op.path.replace(/\{[^}]+\}/g, odd))
        if (status !== 400) failures.push(`${op.method} ${op.path} with "${odd}": ${status}`)
      }
    }
    expect(failures).toEqual([])
  })

  it('wrote no token to its log', () => {
    expect(logs.length).toBeGreaterThan(10)
    const leaks = logs.filter((l) => Object.values(tokens).some((t) => l.includes(t)))
    expect(leaks).toEqual([])
  })
})
