import Type from 'typebox'
import type { Stations } from '../../domain/stations.ts'
import type { Notifier } from '../../notify/notifier.ts'
import { CONTACT_CHANNELS } from '../../notify/types.ts'
import { AuthErrors, ErrorSchema } from '../schemas.ts'
import { contactInScope, notFound, scopeOf } from '../scope.ts'
import type { RoutePlugin } from '../types.ts'

export interface NotifyRouteDeps {
  notifier: Notifier
  stations?: Stations | undefined
}

export const notifyRoutes: RoutePlugin<NotifyRouteDeps> = async (app, deps) => {
  app.post(
    '/notify/test',
    {
      config: { roles: ['officer'] },
      schema: {
        tags: ['notifications'],
        summary: 'Send a test message to one contact on each of its channels, now',
        body: Type.Object(
          { contact: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'Subscription id' }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            {
              results: Type.Array(
                Type.Object(
                  {
                    channel: Type.Enum([...CONTACT_CHANNELS]),
                    ok: Type.Boolean(),
                    code: Type.Optional(Type.String()),
                    message: Type.Optional(Type.String()),
                  },
                  { additionalProperties: false },
                ),
              ),
            },
            { additionalProperties: false },
          ),
          ...AuthErrors,
          404: ErrorSchema,
        },
      },
    },
    async (request) => {
      // A contact outside a scoped caller's places answers like an unknown one (docs/api.md).
      const c = deps.notifier.contacts.get(request.body.contact)
      if (c && !contactInScope(scopeOf(request.actor), c, deps.stations))
        throw notFound(`contact ${request.body.contact} not found: list them with GET /api/v1/subscriptions`)
      return { results: await deps.notifier.sendTest(request.body.contact) }
    },
  )
}
