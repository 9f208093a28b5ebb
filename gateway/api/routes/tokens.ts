import Type from 'typebox'
import { ROLES, RegistryError, type DeviceRegistry } from '../../registry/types.ts'
import { AuthErrors, ErrorSchema, OpaqueId, PageOf, PageQuery, pageAsked } from '../schemas.ts'
import { auditActor, type RoutePlugin } from '../types.ts'

export interface TokenRouteDeps {
  registry: DeviceRegistry
}

const Role = Type.Enum([...ROLES], { description: 'admin (everything), technician (devices), officer (alerts), viewer (read)' })

const TokenSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    role: Role,
    created_at: Type.String({ format: 'date-time' }),
    last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { additionalProperties: false },
)

const ADMIN = ['admin'] as const

export const tokenRoutes: RoutePlugin<TokenRouteDeps> = async (app, deps) => {
  app.post(
    '/tokens',
    {
      config: { roles: ADMIN, audited: true },
      schema: {
        tags: ['tokens'],
        summary: 'Create an API token; the answer holds the token, shown only this once',
        body: Type.Object(
          { role: Role, name: Type.String({ minLength: 1, maxLength: 100, description: 'Who or what uses it' }) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object(
            { id: Type.String(), name: Type.String(), role: Role, token: Type.String({ description: 'Bearer token; store it now' }) },
            { additionalProperties: false },
          ),
          ...AuthErrors,
        },
      },
    },
    async (request, reply) => {
      const { token, secret } = await deps.registry.createToken(request.body, auditActor(request.actor))
      request.log.info({ tokenId: token.id, role: token.role }, 'api token created')
      return reply.code(201).send({ id: token.id, name: token.name, role: token.role, token: secret })
    },
  )

  app.get(
    '/tokens',
    {
      config: { roles: ADMIN, audited: true },
      schema: {
        tags: ['tokens'],
        summary: 'List API tokens (never their secrets)',
        querystring: PageQuery,
        response: { 200: PageOf(TokenSchema), ...AuthErrors },
      },
    },
    async (request) => deps.registry.listTokens(pageAsked(request.query)),
  )

  app.delete(
    '/tokens/:id',
    {
      config: { roles: ADMIN, audited: true },
      schema: {
        tags: ['tokens'],
        summary: 'Delete an API token; it stops working at once',
        params: Type.Object({ id: OpaqueId }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...AuthErrors, 404: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (request, reply) => {
      const { id } = request.params
      if (await isLastAdmin(deps.registry, id)) {
        throw new RegistryError('conflict', `token "${id}" is the last admin token; create another admin token first`)
      }
      await deps.registry.deleteToken(id, auditActor(request.actor))
      return reply.code(204).send(null)
    },
  )
}

/** Deleting the last admin token would leave only a restart with IOC_ADMIN_TOKEN to get back in. */
async function isLastAdmin(registry: DeviceRegistry, id: string): Promise<boolean> {
  let admins = 0
  let target = false
  let cursor: string | undefined
  do {
    const page = await registry.listTokens({ limit: 500, cursor })
    for (const t of page.items) {
      if (t.role !== 'admin') continue
      admins++
      if (t.id === id) target = true
    }
    cursor = page.next ?? undefined
  } while (cursor && admins < 2)
  return target && admins < 2
}
