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
import { ErrorSchema } from './schemas.ts'
import type { ApiApp, RoutePlugin, RouteRoles } from './types.ts'

export type { ApiApp, RoutePlugin, RouteRoles } from './types.ts'

export type ReadinessCheck = () => Promise<Record<string, { ok: boolean; state?: string; detail?: string }>>

export interface BuildApiOptions<D = unknown> {
  registry: DeviceRegistry
  metrics: Metrics
  logger: Logger
  config: {
    /** Failed authentications allowed per client address per minute before 429. */
    authFailuresPerMinute: number
    /** Largest request body, bytes (a route may set its own bodyLimit). Default 256 KiB. */
    bodyLimit?: number
  }
  /** Per-component readiness for /readyz (docs/operations.md "Health and readiness": broker, stores, model). */
  readiness: ReadinessCheck
  /** Route files, each registered under /api/v1. */
  routes: ReadonlyArray<RoutePlugin<D>>
  deps: D
  /** Replaces the in-memory failed-auth counter (e.g. a shared one for several nodes). */
  limiter?: AuthFailureLimiter
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
export async function buildApi<D>(opts: BuildApiOptions<D>): Promise<ApiApp> {
  const app = Fastify({
    loggerInstance: opts.logger,
    bodyLimit: opts.config.bodyLimit ?? 256 * 1024,
    schemaErrorFormatter,
    // Longer params reach validation and get a 400 naming the param, instead of a bare 414.
    routerOptions: { maxParamLength: 1000 },
    ...opts.fastify,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as ApiApp
  const authRefused = opts.metrics.counter('http_auth_refused_total', 'API requests refused by authentication or role, by reason', ['reason'])
  const badRequests = opts.metrics.counter('http_rejected_total', 'API requests refused as bad input, by reason', ['reason'])
  const requests = opts.metrics.counter('http_requests_total', 'API requests answered, by method, route and status', ['method', 'route', 'status'])
  const duration = opts.metrics.histogram('http_request_duration_seconds', 'API request handling time', ['method', 'route'],
    [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5])
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

  const catalog: RouteInfo[] = []
  ;(app as unknown as Record<symbol, unknown>)[catalogKey] = catalog

  let registeringDocs = false
  registerAuth(app, {
    registry: opts.registry,
    limiter: opts.limiter ?? memoryAuthFailureLimiter(opts.config.authFailuresPerMinute),
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
        description: 'Devices, tokens, readings, alerts and cameras of the operations-centre gateway. ' +
          'Send `Authorization: Bearer <token>`; each route lists the roles it accepts (admin is always accepted).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
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

  app.get('/healthz', {
    config: { roles: 'public' },
    schema: {
      tags: ['health'],
      summary: 'The process is alive',
      response: { 200: Type.Object({ status: Type.Literal('ok') }) },
    },
  }, async () => ({ status: 'ok' as const }))

  const Checks = Type.Record(
    Type.String(),
    Type.Object({
      ok: Type.Boolean(),
      state: Type.Optional(Type.String({ description: 'a component that is ok but not fully on, e.g. "off" for vision without model files' })),
      detail: Type.Optional(Type.String()),
    }),
  )
  const ReadyBody = Type.Object({ status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]), checks: Checks })
  app.get('/readyz', {
    config: { roles: 'public' },
    schema: {
      tags: ['health'],
      summary: 'Ready to serve: broker, stores and models all ok (503 with the failing component otherwise)',
      response: { 200: ReadyBody, 503: ReadyBody },
    },
  }, async (_request, reply) => {
    let checks: Record<string, { ok: boolean; state?: string; detail?: string }>
    try {
      checks = await opts.readiness()
    } catch (err) {
      checks = { readiness: { ok: false, detail: `readiness check failed: ${(err as Error).message}` } }
    }
    const ready = Object.values(checks).every((c) => c.ok)
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks })
  })

  app.get('/metrics', {
    config: { roles: METRICS_ROLES },
    schema: {
      tags: ['health'],
      summary: 'Prometheus metrics (text exposition format); any valid token',
      response: { 200: Type.String(), 401: ErrorSchema, 403: ErrorSchema, 429: ErrorSchema },
    },
  }, async (_request, reply) => {
    const text = await opts.metrics.text()
    return reply.type(opts.metrics.registry.contentType).send(text)
  })

  for (const routes of opts.routes) {
    await app.register(async (scope) => routes(scope as unknown as ApiApp, opts.deps), { prefix: '/api/v1' })
  }
  return app
}
