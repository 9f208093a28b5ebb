import Type from 'typebox'
import { AlertError, type Alerting } from '../../alerts/engine.ts'
import { AlertKindSchema, AlertSchema, AlertStateSchema } from '../../alerts/schema.ts'
import type { Alert } from '../../alerts/types.ts'
import { AuthErrors, Cursor, ErrorSchema, Limit, PageOf, pageAsked } from '../schemas.ts'
import { canSee, notFound, scopeOf } from '../scope.ts'
import type { ApiActor, RoutePlugin } from '../types.ts'

export interface AlertRouteDeps {
  alerting: Alerting
}

const READ = ['viewer', 'officer', 'technician'] as const
const ACT = ['officer'] as const
const Id = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'Alert id' }) }, { additionalProperties: false })
const Note = Type.Object(
  { note: Type.Optional(Type.String({ maxLength: 1000, description: 'What was done or decided' })) },
  { additionalProperties: false },
)

const who = (a: ApiActor | null) => (a ? a.name : 'unknown')

/** A request without a body is checked (and handled) as `{}`: the note is optional. */
async function noBodyIsNoNote(request: { body: unknown }): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {}
}

function http(err: unknown): never {
  if (err instanceof AlertError) throw Object.assign(new Error(err.message), { statusCode: err.code === 'not_found' ? 404 : 409 })
  throw err
}

export const alertRoutes: RoutePlugin<AlertRouteDeps> = async (app, deps) => {
  // The note of ack and resolve is optional, so no body at all (`curl -X POST`) or an empty one
  // under a JSON content type (clients that always send the header) means "no note", not a 400.
  // This scope only (each route file is its own Fastify scope); other bodies parse as everywhere.
  const json = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if ((body as string).trim() === '') done(null, undefined)
    else void json(request, body as string, done)
  })
  app.get(
    '/alerts',
    {
      config: { roles: READ },
      schema: {
        tags: ['alerts'],
        summary: 'List alerts, newest change first',
        querystring: Type.Object(
          {
            state: Type.Optional(AlertStateSchema),
            kind: Type.Optional(AlertKindSchema),
            station: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$' })),
            device: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$' })),
            limit: Type.Optional(Limit),
            cursor: Type.Optional(Cursor),
          },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(AlertSchema), ...AuthErrors },
      },
    },
    async (request) => {
      const q = request.query
      return deps.alerting.list(
        { state: q.state, kind: q.kind, station: q.station, device: q.device, scope: scopeOf(request.actor) },
        pageAsked(q),
      )
    },
  )

  /** The alert when it exists and the caller may see it (a scoped user: 404 for other places' alerts). */
  const visible = async (id: string, actor: ApiActor | null) => {
    const a = await deps.alerting.get(id)
    if (!a || !canSee(actor, a)) throw notFound(`alert ${id} not found: list alerts with GET /api/v1/alerts`)
    return a
  }

  app.get(
    '/alerts/:id',
    {
      config: { roles: READ },
      schema: {
        tags: ['alerts'],
        summary: 'One alert with its full history',
        params: Id,
        response: { 200: AlertSchema, ...AuthErrors, 404: ErrorSchema },
      },
    },
    async (request) => visible(request.params.id, request.actor),
  )

  /** An officer's step on an alert (ack, resolve): who and when are kept, with the optional note. */
  function action(
    step: 'ack' | 'resolve',
    summary: string,
    run: (id: string, by: string, note: string | undefined) => Promise<Alert>,
  ): void {
    app.post(
      `/alerts/:id/${step}`,
      {
        config: { roles: ACT },
        schema: {
          tags: ['alerts'],
          summary,
          params: Id,
          body: Note,
          response: { 200: AlertSchema, ...AuthErrors, 404: ErrorSchema, 409: ErrorSchema },
        },
        preValidation: noBodyIsNoNote,
      },
      async (request) => {
        await visible(request.params.id, request.actor)
        try {
          return await run(request.params.id, who(request.actor), request.body?.note)
        } catch (err) {
          return http(err)
        }
      },
    )
  }

  action('ack', 'Acknowledge an alert (who and when are kept; stops escalation)', (id, by, note) => deps.alerting.acknowledge(id, by, note))
  action('resolve', 'Resolve an alert by hand; the condition opens a new alert only when it clears and comes back', (id, by, note) =>
    deps.alerting.resolve(id, by, note),
  )
}
