import helmet from '@fastify/helmet'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyServerOptions } from 'fastify'
import Type from 'typebox'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { DeviceRegistry } from '../registry/types.ts'
import { memoryAuthFailureLimiter, registerAuth, type AuthFailureLimiter } from './auth.ts'
import { createErrorHandler, notFoundHandler, schemaErrorFormatter, validatorCompiler } from './errors.ts'
import { loginLimiter } from './login-limiter.ts'
import { ErrorSchema } from './schemas.ts'
import { sessionRoutes } from './session-routes.ts'
import { sessionManager } from './sessions.ts'
import { auditActor, type ApiApp, type ApiRoutes, type RouteRoles } from './types.ts'

export type { ApiApp, ApiRoutes, RoutePlugin, RouteRoles } from './types.ts'
export { withDeps } from './types.ts'

export type ReadinessCheck = () => Promise<Record<string, { ok: boolean; state?: string; detail?: string }>>

export interface BuildApiOptions {
  registry: DeviceRegistry
  metrics: Metrics
  logger: Logger
  config: {
    /** Failed authentications allowed per client address per minute before 429. */
    authFailuresPerMinute: number
    /** Failed authentications allowed per MQTT user name (device id) per minute, from any address. */
    authFailuresPerUsernamePerMinute?: number
    /** Failed logins allowed per console user name per minute before 429 (the address limit applies too). */
    loginFailuresPerUserPerMinute?: number
    /** Console sessions end after this many minutes unused (default 30)... */
    sessionIdleMinutes?: number
    /** ...or this many hours after login (default 12). */
    sessionMaxHours?: number
    /** Largest request body, bytes (a route may set its own bodyLimit). Default 256 KiB. */
    bodyLimit?: number
  }
  /** Per-component readiness for /readyz (docs/operations.md "Health and readiness": broker, stores, model). */
  readiness: ReadinessCheck
  /** Route files with their dependencies (withDeps), each registered under /api/v1. */
  routes: ReadonlyArray<ApiRoutes>
  /** The failed-auth counter, shared with the MQTT broker (app.ts); default an in-memory one from `config`. */
  limiter?: AuthFailureLimiter
  /**
   * Failed console logins per user name (keyed `user:{name}`); default an in-memory one from
   * `config.loginFailuresPerUserPerMinute`. In cluster mode one every node shares (app.ts).
   */
  loginNames?: AuthFailureLimiter
  /** The clock of session timeouts (tests move it instead of waiting). */
  now?: () => number
  /** Extra Fastify options (https, trust proxy, ...). */
  fastify?: Partial<FastifyServerOptions>
}

/** Roles allowed to read /metrics: any valid token (Prometheus sends it as a bearer credential). */
export const METRICS_ROLES = ['viewer', 'officer', 'technician'] as const

export interface RouteInfo {
  method: string
  url: string
  roles: RouteRoles
  hasBody: boolean
  params: string[]
  /** The route's request schemas, as declared. */
  schema: { body?: unknown; querystring?: unknown; params?: unknown }
}

/** Every route of the app with its declared roles (tests build role matrices from it). */
export function routeCatalog(app: ApiApp): RouteInfo[] {
  return (app as unknown as { [catalogKey]: RouteInfo[] })[catalogKey]
}
const catalogKey = Symbol.for('iocgw.routeCatalog')

/**
 * The HTTP API: auth, validation, errors, OpenAPI at /docs, the unversioned health routes, and
 * the route files under /api/v1. Returns the app without listening (the caller listens).
 */
export async function buildApi(opts: BuildApiOptions): Promise<ApiApp> {
  const app = Fastify({
    loggerInstance: opts.logger,
    bodyLimit: opts.config.bodyLimit ?? 256 * 1024,
    schemaErrorFormatter,
    // Longer params reach validation and get a 400 naming the param, instead of a bare 414.
    routerOptions: { maxParamLength: 1000 },
    ...opts.fastify,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as ApiApp
  const authRefused = opts.metrics.counter('http_auth_refused_total', 'API requests refused by authentication or role, by reason', [
    'reason',
  ])
  const badRequests = opts.metrics.counter('http_rejected_total', 'API requests refused as bad input, by reason', ['reason'])
  const requests = opts.metrics.counter('http_requests_total', 'API requests answered, by method, route and status', [
    'method',
    'route',
    'status',
  ])
  const duration = opts.metrics.histogram(
    'http_request_duration_seconds',
    'API request handling time',
    ['method', 'route'],
    [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
  )
  // Fastify parses text/plain bodies by default, so a text body reached validation and got 400
  // "body must be object"; docs/api.md answers 415 to anything that is not JSON.
  app.removeContentTypeParser('text/plain')
  app.setValidatorCompiler(validatorCompiler)
  app.setErrorHandler(createErrorHandler((reason) => badRequests.inc({ reason })))
  app.setNotFoundHandler((request, reply) => {
    badRequests.inc({ reason: 'no_route' })
    return notFoundHandler(request, reply)
  })
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, never the raw URL: ids in label values would grow the series without bound.
    const route = request.is404 ? '(none)' : (request.routeOptions.url ?? '(none)')
    requests.inc({ method: request.method, route, status: String(reply.statusCode) })
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000)
  })

  // Every successful change made through the API is in the audit log with the caller's name: routes
  // whose handlers record a more precise entry declare `audited`; the rest (alerts, rules,
  // subscriptions, device commands, and routes added later) get this generic one.
  app.addHook('onResponse', async (request, reply) => {
    if (request.is404 || !request.actor || reply.statusCode >= 400 || request.routeOptions.config.audited) return
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return
    const params = Object.values((request.params ?? {}) as Record<string, string>)
    try {
      await opts.registry.audit(
        auditActor(request.actor),
        `api ${request.method} ${request.routeOptions.url ?? ''}`,
        params.length > 0 ? params.join('/') : (request.routeOptions.url ?? ''),
        { status: reply.statusCode },
      )
    } catch (err) {
      request.log.error({ err }, 'audit entry not written')
    }
  })

  const catalog: RouteInfo[] = []
  ;(app as unknown as Record<symbol, unknown>)[catalogKey] = catalog

  let registeringDocs = false
  const limiter =
    opts.limiter ??
    memoryAuthFailureLimiter({
      perAddressPerMinute: opts.config.authFailuresPerMinute,
      perUsernamePerMinute: opts.config.authFailuresPerUsernamePerMinute,
    })
  const sessions = sessionManager(
    opts.registry.users,
    {
      idleMinutes: opts.config.sessionIdleMinutes ?? 30,
      maxHours: opts.config.sessionMaxHours ?? 12,
    },
    opts.now,
  )
  const logins = opts.metrics.counter('http_logins_total', 'Console log-in attempts, by result (ok, refused, rate_limited)', ['result'])
  registerAuth(app, {
    registry: opts.registry,
    limiter,
    sessions,
    refused: (reason) => authRefused.inc({ reason }),
    implicitPublic: () => registeringDocs,
  })
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    const roles = route.config?.roles
    if (!roles) return
    const schema = route.schema as { body?: unknown; querystring?: unknown; params?: unknown } | undefined
    for (const method of methods) {
      catalog.push({
        method: String(method),
        url: route.url,
        roles,
        hasBody: schema?.body !== undefined,
        params: [...route.url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1] as string),
        schema: { body: schema?.body, querystring: schema?.querystring, params: schema?.params },
      })
    }
  })

  await app.register(helmet, {
    // swagger-ui's page needs its own scripts and inline styles; JSON answers need no CSP relief.
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:', 'validator.swagger.io'],
        // The gateway often serves plain HTTP on a LAN address; upgrading would break /docs there.
        upgradeInsecureRequests: null,
      },
    },
  })

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'ioc-gateway API',
        version: 'v1',
        description:
          'Devices, tokens, readings, alerts and cameras of the operations-centre gateway. ' +
          'Send `Authorization: Bearer <token>` (machines), or log in with POST /api/v1/auth/login and send the session cookie ' +
          'with the `X-CSRF-Token` header on every POST, PUT, PATCH and DELETE (people); each route lists the roles it accepts ' +
          '(admin is always accepted).',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          session: { type: 'apiKey', in: 'cookie', name: 'iocgw_session' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    transform: ({ schema, url, route }) => {
      const roles = (route.config as { roles?: RouteRoles } | undefined)?.roles
      const s = { ...(schema as Record<string, unknown>) }
      if (roles === 'public') s.security = []
      else if (roles) {
        const who = `Roles: ${['admin', ...roles.filter((r) => r !== 'admin')].join(', ')}.`
        s.description = s.description ? `${String(s.description)}\n\n${who}` : who
      }
      return { schema: s, url }
    },
  })
  registeringDocs = true
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: false })
  registeringDocs = false

  app.get(
    '/healthz',
    {
      config: { roles: 'public' },
      schema: {
        tags: ['health'],
        summary: 'The process is alive',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  )

  const Checks = Type.Record(
    Type.String(),
    Type.Object({
      ok: Type.Boolean(),
      state: Type.Optional(
        Type.String({
          description:
            'where a component is: "off" for vision without model files; "idle", "starting", "running" or "failed" for the vision workers',
        }),
      ),
      detail: Type.Optional(Type.String()),
    }),
  )
  const ReadyBody = Type.Object({ status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]), checks: Checks })
  app.get(
    '/readyz',
    {
      config: { roles: 'public' },
      schema: {
        tags: ['health'],
        summary: 'Ready to serve: broker, stores and models all ok (503 with the failing component otherwise)',
        response: { 200: ReadyBody, 503: ReadyBody },
      },
    },
    async (_request, reply) => {
      let checks: Record<string, { ok: boolean; state?: string; detail?: string }>
      try {
        checks = await opts.readiness()
      } catch (err) {
        checks = { readiness: { ok: false, detail: `readiness check failed: ${(err as Error).message}` } }
      }
      const ready = Object.values(checks).every((c) => c.ok)
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks })
    },
  )

  app.get(
    '/metrics',
    {
      config: { roles: METRICS_ROLES },
      schema: {
        tags: ['health'],
        summary: 'Prometheus metrics (text exposition format); any valid token',
        response: { 200: Type.String(), 401: ErrorSchema, 403: ErrorSchema, 429: ErrorSchema },
      },
    },
    async (_request, reply) => {
      const text = await opts.metrics.text()
      return reply.type(opts.metrics.registry.contentType).send(text)
    },
  )

  await app.register(
    async (scope) =>
      sessionRoutes(scope as unknown as ApiApp, {
        users: opts.registry.users,
        sessions,
        limiter: loginLimiter(
          limiter,
          opts.loginNames ??
            memoryAuthFailureLimiter({
              perAddressPerMinute: opts.config.loginFailuresPerUserPerMinute ?? 10,
              ...(opts.now ? { now: opts.now } : {}),
            }),
        ),
        counted: (result) => logins.inc({ result }),
      }),
    { prefix: '/api/v1' },
  )
  for (const routes of opts.routes) {
    await app.register(async (scope) => routes(scope as unknown as ApiApp), { prefix: '/api/v1' })
  }
  return app
}
