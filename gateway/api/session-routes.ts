import Type from 'typebox'
import { ROLES } from '../registry/types.ts'
import { PASSWORD_MAX_LENGTH } from '../registry/passwords.ts'
import type { UserAccount, UserRegistry } from '../registry/users.ts'
import { clearedSessionCookie, sessionCookie } from './cookies.ts'
import type { LoginLimiter } from './login-limiter.ts'
import { AuthErrors, ErrorSchema } from './schemas.ts'
import type { SessionManager } from './sessions.ts'
import { auditActor, type ApiApp } from './types.ts'

// Console log-in for people: POST /auth/login answers a session cookie and the CSRF token that
// every state-changing request made with that cookie must carry (docs/api.md, "Console sessions").

export interface SessionRouteDeps {
  users: UserRegistry
  sessions: SessionManager
  limiter: LoginLimiter
  /** Counts logins by result (metrics). */
  counted: (result: 'ok' | 'refused' | 'rate_limited') => void
}

const ANY = ['viewer', 'officer', 'technician'] as const
// Bounded but not patterned: an unknown name must get the same answer as a wrong password, never
// a 400 that tells it apart.
const Username = Type.String({ minLength: 1, maxLength: 200 })
const Password = Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH })

export const SessionUserSchema = Type.Object(
  {
    name: Type.String(),
    role: Type.Enum([...ROLES]),
    districts: Type.Array(Type.String(), { description: 'Scope: districts whose data this user sees (none and no stations: all)' }),
    stations: Type.Array(Type.String(), { description: 'Scope: stations whose data this user sees' }),
  },
  { additionalProperties: false },
)
const SessionAnswer = Type.Object(
  { user: SessionUserSchema, csrfToken: Type.String({ description: 'Send as X-CSRF-Token on every POST, PUT, PATCH and DELETE' }) },
  { additionalProperties: false },
)

const sessionUser = (u: UserAccount) => ({ name: u.name, role: u.role, districts: u.districts, stations: u.stations })
const WRONG = 'wrong username or password'

function notASession(): Error {
  return Object.assign(
    new Error('this route is for a console session (cookie from POST /api/v1/auth/login); the request used a bearer token'),
    { statusCode: 400 },
  )
}

export async function sessionRoutes(app: ApiApp, deps: SessionRouteDeps): Promise<void> {
  app.post(
    '/auth/login',
    {
      config: { roles: 'public' },
      schema: {
        tags: ['sessions'],
        summary: 'Log a person in: sets the HttpOnly session cookie and answers the CSRF token',
        security: [],
        body: Type.Object({ username: Username, password: Password }, { additionalProperties: false }),
        response: { 200: SessionAnswer, 400: ErrorSchema, 401: ErrorSchema, 429: ErrorSchema },
      },
    },
    async (request, reply) => {
      const username = request.body.username.trim().toLowerCase()
      const wait = deps.limiter.blocked(request.ip, username)
      if (wait > 0) {
        deps.counted('rate_limited')
        return reply
          .code(429)
          .header('retry-after', String(wait))
          .send({ statusCode: 429, error: 'Too Many Requests', message: `too many failed logins; try again in ${wait} s` })
      }
      const user = await deps.users.checkPassword(username, request.body.password)
      if (!user) {
        deps.limiter.fail(request.ip, username)
        deps.counted('refused')
        return reply.code(401).send({ statusCode: 401, error: 'Unauthorized', message: WRONG })
      }
      // A session the browser already had ends: one login, one session id (no fixation).
      if (request.session) await deps.sessions.close(request.session.id)
      const session = await deps.sessions.open(user)
      await deps.users.audit({ type: 'user', id: user.id, name: user.name }, 'user.login', user.name, { address: request.ip })
      deps.counted('ok')
      reply.removeHeader('set-cookie')
      reply.header('set-cookie', sessionCookie(session.id, request.protocol === 'https'))
      reply.header('cache-control', 'no-store')
      return { user: sessionUser(user), csrfToken: session.csrfToken }
    },
  )

  app.get(
    '/auth/me',
    {
      config: { roles: ANY, audited: true },
      schema: {
        tags: ['sessions'],
        summary: 'The logged-in user and the CSRF token of this session (401 when the session has ended)',
        response: { 200: SessionAnswer, ...AuthErrors },
      },
    },
    async (request, reply) => {
      if (!request.session || !request.actor) throw notASession()
      const user = await deps.users.getUser(request.actor.name)
      if (!user) throw notASession()
      reply.header('cache-control', 'no-store')
      return { user: sessionUser(user), csrfToken: request.session.csrfToken }
    },
  )

  app.post(
    '/auth/logout',
    {
      config: { roles: ANY, audited: true },
      schema: {
        tags: ['sessions'],
        summary: 'End this session on the server and clear the cookie',
        response: { 204: Type.Null(), ...AuthErrors },
      },
    },
    async (request, reply) => {
      if (!request.session || !request.actor) throw notASession()
      await deps.sessions.close(request.session.id)
      await deps.users.audit(auditActor(request.actor), 'user.logout', request.actor.name, null)
      return reply
        .code(204)
        .header('set-cookie', clearedSessionCookie(request.protocol === 'https'))
        .send(null)
    },
  )

  app.post(
    '/auth/password',
    {
      config: { roles: ANY, audited: true },
      schema: {
        tags: ['sessions'],
        summary: "Change one's own password; every other session of the user ends",
        body: Type.Object({ current: Password, next: Password }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...AuthErrors },
      },
    },
    async (request, reply) => {
      if (!request.session || !request.actor) throw notASession()
      const name = request.actor.name
      // Checking the current password is a login attempt like any other: same limits.
      const wait = deps.limiter.blocked(request.ip, name)
      if (wait > 0) {
        return reply
          .code(429)
          .header('retry-after', String(wait))
          .send({ statusCode: 429, error: 'Too Many Requests', message: `too many failed password checks; try again in ${wait} s` })
      }
      if (!(await deps.users.checkPassword(name, request.body.current))) {
        deps.limiter.fail(request.ip, name)
        return reply.code(403).send({ statusCode: 403, error: 'Forbidden', message: 'body/current is not the current password' })
      }
      await deps.users.setPassword(name, request.body.next, auditActor(request.actor), request.session.id)
      return reply.code(204).send(null)
    },
  )
}
