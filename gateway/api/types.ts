import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify'
import type { Scope } from '../registry/scope.ts'
import type { Actor, Role } from '../registry/types.ts'

/** The Fastify instance every route file receives: TypeBox schemas give typed requests. */
export type ApiApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>

/**
 * One capability's routes. Registered under /api/v1 in its own encapsulated scope. A route file
 * declares what it needs (`D`) as its own type; withDeps hands it that where the app is put together.
 */
export type RoutePlugin<D> = (app: ApiApp, deps: D) => Promise<void>

/** Route files ready to register: each already given its dependencies (withDeps). */
export type ApiRoutes = (app: ApiApp) => Promise<void>

/** Gives route files their dependencies; the compiler checks here that `deps` holds what each one declares. */
export function withDeps<D>(deps: D, ...plugins: ReadonlyArray<RoutePlugin<NoInfer<D>>>): ApiRoutes[] {
  return plugins.map((plugin) => (app: ApiApp) => plugin(app, deps))
}

/** 'public' (no token needed) or the roles allowed; admin is always allowed. */
export type RouteRoles = 'public' | readonly Role[]

/** The authenticated caller of a request: an API token (machines) or a user's session (people). */
export interface ApiActor {
  /** Token id or user id. */
  id: string
  /** The token's or the user's name: what the audit log and alert history show. */
  name: string
  role: Role
  kind: 'token' | 'user'
  /** Null: every place (tokens, unscoped users). */
  scope: Scope | null
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Required on every route: registration fails without it (auth.ts). */
    roles?: RouteRoles
    /** The handler writes its own audit entries; otherwise every successful change is audited by the server (server.ts). */
    audited?: boolean
  }
  interface FastifyRequest {
    /** Set by the auth hook; null on public routes called without a valid token. */
    actor: ApiActor | null
    /** The console session the request came with (cookie), null for bearer tokens. */
    session: { id: string; csrfToken: string } | null
  }
}

/** The audit-log actor for a request (every registry-changing call passes one). */
export function auditActor(actor: ApiActor | null): Actor {
  if (!actor) return { type: 'system', id: 'anonymous' }
  return { type: actor.kind, id: actor.id, name: actor.name }
}
