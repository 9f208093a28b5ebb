import type { FastifyServerOptions } from 'fastify'
import Value from 'typebox/value'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { deviceRoutes } from '../../gateway/api/routes/devices.ts'
import { tokenRoutes } from '../../gateway/api/routes/tokens.ts'
import { buildApi, type ReadinessCheck, type RouteInfo } from '../../gateway/api/server.ts'
import { withDeps, type ApiApp, type RoutePlugin } from '../../gateway/api/types.ts'

/** A route file found by name: what it needs is given by a proxy that names any missing dependency. */
type AnyRoutePlugin = RoutePlugin<Record<string, unknown>>
import { GatewayBus } from '../../gateway/bus/events.ts'
import { ConfigSchema, type GatewayConfig } from '../../gateway/config/schema.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import { SqliteTimeSeriesStore } from '../../gateway/store/index.ts'
import type { Role } from '../../gateway/registry/types.ts'
import type { AuthFailureLimiter } from '../../gateway/security/auth-failures.ts'
import { tempDir } from '../support/services.ts'

const ROUTES_DIR = fileURLToPath(new URL('../../gateway/api/routes/', import.meta.url))

/**
 * A stand-in for a dependency this test does not build. Any use of it throws, naming the
 * dependency, so a route file that needs it at registration time fails loudly here (add the real
 * dependency to `makeApi` then) and a handler that needs it answers 500, which the role matrix
 * still tells apart from 401/403.
 */
function missingDep(path: string): unknown {
  const fail = () => {
    throw new Error(`test: dependency deps.${path} is not provided by test/api/support.ts`)
  }
  return new Proxy(fail, {
    get: (_t, key) => (key === 'then' ? undefined : typeof key === 'symbol' ? undefined : missingDep(`${path}.${key}`)),
    apply: fail,
    construct: fail,
  })
}

/**
 * Every route plugin in gateway/api/routes: each exported function named `...Routes`. Loading
 * them all is what makes the role matrix and the bad-input sweep cover routes added later.
 */
export async function allRoutePlugins(): Promise<Array<{ file: string; name: string; plugin: AnyRoutePlugin }>> {
  const found: Array<{ file: string; name: string; plugin: AnyRoutePlugin }> = []
  for (const file of readdirSync(ROUTES_DIR)
    .filter((f) => f.endsWith('.ts'))
    .sort()) {
    const mod = (await import(pathToFileURL(join(ROUTES_DIR, file)).href)) as Record<string, unknown>
    for (const [name, value] of Object.entries(mod)) {
      if (typeof value === 'function' && /Routes$/.test(name)) found.push({ file, name, plugin: value as AnyRoutePlugin })
    }
  }
  return found
}

export interface TestApi {
  app: ApiApp
  registry: ReturnType<typeof openRegistry>
  tokens: Record<Role, string>
  /** Every log line the app wrote, raw JSON text. */
  logs: string[]
  dataDir: string
  close(): Promise<void>
}

export async function makeApi(
  opts: {
    authFailuresPerMinute?: number
    readiness?: ReadinessCheck
    /** Load every route file (default) or only devices and tokens. */
    allRoutes?: boolean
    /** Registers more on the app before it is made ready (e.g. the console's static files). */
    register?: (app: ApiApp) => Promise<void>
    loginFailuresPerUserPerMinute?: number
    sessionIdleMinutes?: number
    sessionMaxHours?: number
    /** The clock of session timeouts. */
    now?: () => number
    /** Extra Fastify options (https). */
    fastify?: Partial<FastifyServerOptions>
    /** Dependencies this support does not build (e.g. `vision` for the camera routes). */
    deps?: Record<string, unknown>
    /** A failed-authentication limiter to share (e.g. with a broker). */
    limiter?: AuthFailureLimiter
  } = {},
): Promise<TestApi> {
  const dir = tempDir('iocgw-api-')
  const registry = openRegistry(dir.path)
  const logs: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(line)
      cb()
    },
  })
  const logger = createLogger('trace', sink)
  const metrics = new Metrics({ defaults: false })
  const config = Value.Default(ConfigSchema, { server: { dataDir: dir.path } }) as GatewayConfig
  const known = {
    registry,
    config,
    metrics,
    logger,
    bus: new GatewayBus(),
    store: new SqliteTimeSeriesStore({ dataDir: dir.path, logger, metrics }),
    ...opts.deps,
  }
  const deps = new Proxy(known as Record<string, unknown>, {
    get: (target, key) => (typeof key === 'symbol' || key in target ? target[key as string] : missingDep(key)),
  })
  const routes: AnyRoutePlugin[] =
    opts.allRoutes === false
      ? [deviceRoutes as unknown as AnyRoutePlugin, tokenRoutes as unknown as AnyRoutePlugin]
      : (await allRoutePlugins()).map((r) => r.plugin)
  const app = await buildApi({
    registry,
    metrics,
    logger,
    config: {
      authFailuresPerMinute: opts.authFailuresPerMinute ?? 1_000_000,
      loginFailuresPerUserPerMinute: opts.loginFailuresPerUserPerMinute ?? 1_000_000,
      ...(opts.sessionIdleMinutes !== undefined ? { sessionIdleMinutes: opts.sessionIdleMinutes } : {}),
      ...(opts.sessionMaxHours !== undefined ? { sessionMaxHours: opts.sessionMaxHours } : {}),
    },
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.fastify ? { fastify: opts.fastify } : {}),
    ...(opts.limiter ? { limiter: opts.limiter } : {}),
    readiness: opts.readiness ?? (async () => ({ registry: { ok: true } })),
    routes: withDeps(deps, ...routes),
  })
  await opts.register?.(app)
  await app.ready()
  const system = { type: 'system' as const, id: 'test' }
  const tokens = {} as Record<Role, string>
  for (const role of ['admin', 'technician', 'officer', 'viewer'] as const) {
    tokens[role] = (await registry.createToken({ role, name: `test ${role}` }, system)).secret
  }
  return {
    app,
    registry,
    tokens,
    logs,
    dataDir: dir.path,
    async close() {
      await app.close()
      await known.store.close()
      await registry.close()
      dir.remove()
    },
  }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** The route's path with a well-formed id for any param, so an allowed call passes validation as far as it can. */
export const sampleUrl = (route: RouteInfo): string => route.url.replace(/:([A-Za-z0-9_]+)/g, 'abc-123').replace(/\*$/, 'index.html')

/**
 * The status `app` answers to one call of `route` with `headers` (an empty JSON body where the
 * route takes one). Streams (SSE) never end: only the status line matters, so the body is dropped.
 */
export async function statusOf(app: ApiApp, route: RouteInfo, headers: Record<string, string>): Promise<number> {
  const res = await app.inject({
    method: route.method as 'GET',
    url: sampleUrl(route),
    headers,
    ...(route.hasBody ? { payload: {} } : {}),
    payloadAsStream: true,
  })
  res.stream().destroy()
  return res.statusCode
}

/** A console session: the cookie to send back and the CSRF token for state-changing requests. */
export interface TestSession {
  cookie: string
  csrf: string
  /** Headers of a state-changing request with this session. */
  write: { cookie: string; 'x-csrf-token': string }
}

/** Logs `username` in through POST /api/v1/auth/login (fails the test when refused). */
export async function login(app: ApiApp, username: string, password: string, remoteAddress?: string): Promise<TestSession> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { username, password },
    ...(remoteAddress ? { remoteAddress } : {}),
  })
  if (res.statusCode !== 200) throw new Error(`login ${username}: ${res.statusCode} ${res.body}`)
  const setCookie = String(res.headers['set-cookie'])
  const cookie = setCookie.split(';')[0] as string
  const csrf = (res.json() as { csrfToken: string }).csrfToken
  return { cookie, csrf, write: { cookie, 'x-csrf-token': csrf } }
}
