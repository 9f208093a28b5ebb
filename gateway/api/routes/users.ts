import Type from 'typebox'
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../registry/passwords.ts'
import { ROLES, type DeviceRegistry } from '../../registry/types.ts'
import { USER_NAME_PATTERN, type UserAccount } from '../../registry/users.ts'
import { AuthErrors, ErrorSchema, PageOf, PageQuery, pageAsked } from '../schemas.ts'
import { auditActor, type RoutePlugin } from '../types.ts'
import { notFound } from '../scope.ts'

// User accounts for people (admin). Tokens stay for machines (tokens.ts).

export interface UserRouteDeps {
  registry: Pick<DeviceRegistry, 'users'>
}

const Role = Type.Enum([...ROLES], { description: 'admin (everything), technician (devices), officer (alerts), viewer (read)' })
const Name = Type.String({ pattern: USER_NAME_PATTERN, maxLength: 64, description: 'Login name: lower case letters, digits, . _ @ -' })
// Same forms as a device's station and district (devices.ts).
const Districts = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  maxItems: 100,
  description: 'Scope: districts whose data the user sees',
})
const Stations = Type.Array(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' }), {
  maxItems: 500,
  description: 'Scope: stations whose data the user sees',
})
const Password = Type.String({
  minLength: PASSWORD_MIN_LENGTH,
  maxLength: PASSWORD_MAX_LENGTH,
  description: `At least ${PASSWORD_MIN_LENGTH} characters`,
})

export const UserSchema = Type.Object(
  {
    name: Type.String(),
    role: Role,
    districts: Type.Array(Type.String()),
    stations: Type.Array(Type.String()),
    disabled: Type.Boolean(),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
    last_login_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { additionalProperties: false },
)

const NameParams = Type.Object({ name: Name }, { additionalProperties: false })
const ADMIN = ['admin'] as const

export const userRoutes: RoutePlugin<UserRouteDeps> = async (app, deps) => {
  const users = deps.registry.users
  // The internal id stays inside: people are named by their login name.
  const view = ({ id: _id, ...u }: UserAccount) => u

  app.post(
    '/users',
    {
      config: { roles: ADMIN, audited: true },
      schema: {
        tags: ['users'],
        summary: 'Create a user account for a person (console log-in); no districts and no stations: every place',
        body: Type.Object(
          { name: Name, role: Role, password: Password, districts: Type.Optional(Districts), stations: Type.Optional(Stations) },
          { additionalProperties: false },
        ),
        response: { 201: UserSchema, ...AuthErrors, 409: ErrorSchema },
      },
    },
    async (request, reply) => {
      const user = await users.createUser(request.body, auditActor(request.actor))
      request.log.info({ user: user.name, role: user.role }, 'user created')
      return reply.code(201).send(view(user))
    },
  )

  app.get(
    '/users',
    {
      config: { roles: ADMIN, audited: true },
      schema: {
        tags: ['users'],
        summary: 'List user accounts (never their passwords)',
        querystring: PageQuery,
        response: { 200: PageOf(UserSchema), ...AuthErrors },
      },
    },
    async (request) => {
      const page = await users.listUsers(pageAsked(request.query))
      return { items: page.items.map(view), next: page.next }
    },
  )

  app.get(
    '/users/:name',
    {
      config: { roles: ADMIN, audited: true },
      schema: {
        tags: ['users'],
        summary: 'One user account',
        params: NameParams,
        response: { 200: UserSchema, ...AuthErrors, 404: ErrorSchema },
      },
    },
    async (request) => {
      const user = await users.getUser(request.params.name)
      if (!user) throw notFound(`user "${request.params.name}" does not exist (GET /api/v1/users lists them)`)
      return view(user)
    },
  )

  app.patch(
    '/users/:name',
    {
      config: { roles: ADMIN, audited: true },
      schema: {
        tags: ['users'],
        summary: "Change a user's role, scope or disabled flag; the user's sessions end (log in again under the new terms)",
        params: NameParams,
        body: Type.Object(
          {
            role: Type.Optional(Role),
            districts: Type.Optional(Districts),
            stations: Type.Optional(Stations),
            disabled: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: UserSchema, ...AuthErrors, 404: ErrorSchema },
      },
    },
    async (request) => view(await users.updateUser(request.params.name, request.body, auditActor(request.actor))),
  )

  app.post(
    '/users/:name/password',
    {
      config: { roles: ADMIN, audited: true },
      schema: {
        tags: ['users'],
        summary: "Set a user's password (admin reset); every session of the user ends",
        params: NameParams,
        body: Type.Object({ password: Password }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...AuthErrors, 404: ErrorSchema },
      },
    },
    async (request, reply) => {
      await users.setPassword(request.params.name, request.body.password, auditActor(request.actor))
      return reply.code(204).send(null)
    },
  )
}
