import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import type { ApiToken, DeviceRegistry } from '../registry/types.ts'
import { ROLES } from '../registry/types.ts'
import type { AuthFailureLimiter } from '../security/auth-failures.ts'
import { clearedSessionCookie, readCookie, SESSION_COOKIE } from './cookies.ts'
import { csrfMatches, type ActiveSession, type SessionManager } from './sessions.ts'
import type { ApiActor, ApiApp, RouteRoles } from './types.ts'

// The failed-authentication limiter is shared with MQTT (and user logins): see
// gateway/security/auth-failures.ts.
export { memoryAuthFailureLimiter, type AuthFailureLimiter } from '../security/auth-failures.ts'

const HOW_TO =
  "send the header 'Authorization: Bearer <token>' (an admin creates tokens with `iocgw token create --role ROLE`)" +
  ' or log in with POST /api/v1/auth/login'
/** RFC 9110 section 9.2.1: every other method may change state, so a cookie-borne request needs the CSRF token. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

const tokenActor = (t: ApiToken): ApiActor => ({ id: t.id, name: t.name, role: t.role, kind: 'token', scope: null })

export function userActor(s: ActiveSession): ApiActor {
  const { user } = s
  const scoped = user.districts.length > 0 || user.stations.length > 0
  return {
    id: user.id,
    name: user.name,
    role: user.role,
    kind: 'user',
    scope: scoped ? { districts: user.districts, stations: user.stations } : null,
  }
}

function isRouteRoles(v: unknown): v is RouteRoles {
  if (v === 'public') return true
  return Array.isArray(v) && v.length > 0 && v.every((r: unknown) => (ROLES as readonly unknown[]).includes(r))
}

function deny(reply: FastifyReply, statusCode: 401 | 403 | 429, message: string): FastifyReply {
  const error = statusCode === 401 ? 'Unauthorized' : statusCode === 403 ? 'Forbidden' : 'Too Many Requests'
  // RFC 6750 section 3: a 401 for a bearer-protected resource carries WWW-Authenticate.
  if (statusCode === 401) reply.header('www-authenticate', 'Bearer realm="iocgw"')
  return reply.code(statusCode).send({ statusCode, error, message })
}

function bearer(header: string | undefined): string | undefined | null {
  if (header === undefined) return undefined
  // Wider than RFC 6750's b64token: a configured bootstrap token (IOC_ADMIN_TOKEN) may hold any
  // printable ASCII.
  const m = /^Bearer[ ]+([\x21-\x7e]{1,1024})[ ]*$/i.exec(header)
  return m ? (m[1] as string) : null
}

export type AuthRefusal = 'missing' | 'malformed' | 'invalid' | 'forbidden' | 'rate_limited' | 'session' | 'csrf'

export interface AuthOptions {
  registry: Pick<DeviceRegistry, 'authenticateToken'>
  limiter: AuthFailureLimiter
  /** Console sessions (cookie `iocgw_session`). */
  sessions: SessionManager
  /** Called for every refused request (metrics). */
  refused?: (reason: AuthRefusal) => void
  /** Routes registered while this returns true (e.g. the docs UI) are public without declaring it. */
  implicitPublic?: () => boolean
}

/**
 * Installs the route guard (every route must declare `config.roles`, else registration fails, so
 * no route is ever open by accident) and the bearer-token hook that enforces it.
 */
export function registerAuth(app: ApiApp, opts: AuthOptions): void {
  app.decorateRequest('actor', null)
  app.decorateRequest('session', null)

  app.addHook('onRoute', (route: RouteOptions) => {
    const config = (route.config ?? {}) as { roles?: unknown }
    if (config.roles === undefined && opts.implicitPublic?.()) {
      route.config = { ...route.config, roles: 'public' }
      return
    }
    if (!isRouteRoles(config.roles)) {
      throw new Error(
        `route ${String(route.method)} ${route.url} must declare config.roles: 'public' or a non-empty list of ${ROLES.join(', ')}`,
      )
    }
  })

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.is404) return
    const roles = request.routeOptions.config.roles
    const secret = bearer(request.headers.authorization)
    // A bearer header wins over a cookie: a machine's request is judged by its token alone.
    const cookie = secret === undefined ? readCookie(request.headers.cookie, SESSION_COOKIE) : undefined
    const session = cookie !== undefined ? await opts.sessions.resolve(cookie) : undefined
    const secure = request.protocol === 'https'
    if (cookie !== undefined && !session) reply.header('set-cookie', clearedSessionCookie(secure))
    if (roles === 'public') {
      // A token on a public route only identifies the caller; a bad one is ignored, not refused.
      const token = secret ? await opts.registry.authenticateToken(secret) : undefined
      if (token) request.actor = tokenActor(token)
      else if (session) {
        request.actor = userActor(session)
        request.session = { id: session.id, csrfToken: session.csrfToken }
      }
      return
    }
    if (!roles) return deny(reply, 403, 'this route declares no roles')

    const refuse = (reason: AuthRefusal, status: 401 | 403 | 429, message: string) => {
      opts.refused?.(reason)
      return deny(reply, status, message)
    }
    const key = request.ip
    const wait = opts.limiter.blocked(key)
    if (wait > 0) {
      reply.header('retry-after', String(wait))
      return refuse('rate_limited', 429, `too many failed authentications from ${key}; try again in ${wait} s`)
    }
    let actor: ApiActor
    if (secret === undefined && cookie !== undefined) {
      // An unknown or ended session is not counted as a failed authentication: session ids are
      // 256 random bits, so guessing is hopeless, and a console whose session just timed out
      // sends several requests at once that must not lock its address out of logging in again.
      if (!session)
        return refuse('session', 401, 'the session has ended (logged out, timed out or revoked); log in again with POST /api/v1/auth/login')
      if (!SAFE_METHODS.has(request.method) && !csrfMatches(request.headers['x-csrf-token'], session.csrfToken)) {
        return refuse(
          'csrf',
          403,
          'CSRF token missing or wrong: send the csrfToken of the login answer (or GET /api/v1/auth/me) in the X-CSRF-Token header',
        )
      }
      actor = userActor(session)
      request.session = { id: session.id, csrfToken: session.csrfToken }
    } else {
      if (secret === undefined) return refuse('missing', 401, `authentication required: ${HOW_TO}`)
      if (secret === null) {
        opts.limiter.fail(key)
        return refuse('malformed', 401, `malformed Authorization header: ${HOW_TO}`)
      }
      const token = await opts.registry.authenticateToken(secret)
      if (!token) {
        opts.limiter.fail(key)
        return refuse('invalid', 401, `the bearer token is not valid (unknown or deleted): ${HOW_TO}`)
      }
      actor = tokenActor(token)
    }
    request.actor = actor
    if (actor.role !== 'admin' && !roles.includes(actor.role)) {
      const allowed = ['admin', ...roles.filter((r) => r !== 'admin')].join(', ')
      const who = actor.kind === 'token' ? `token "${actor.name}"` : `user "${actor.name}"`
      return refuse('forbidden', 403, `this route needs one of the roles ${allowed}; ${who} has role ${actor.role}`)
    }
  })
}
