import Type from 'typebox'
import { SeveritySchema } from '../../alerts/schema.ts'
import type { Notifier } from '../../notify/notifier.ts'
import { CONTACT_CHANNELS, OUTBOX_STATES } from '../../notify/types.ts'
import { AuthErrors, Limit, PageOf } from '../schemas.ts'
import { scopeOf } from '../scope.ts'
import type { RoutePlugin } from '../types.ts'

// The outbox, read-only (docs/api.md "Notifications", states in docs/notify.md "Outbox states").

export interface NotificationRouteDeps {
  notifier: Notifier
}

const Iso = Type.String({ format: 'date-time' })
const NotificationSchema = Type.Object(
  {
    id: Type.Integer(),
    alert_id: Type.Union([Type.String(), Type.Null()], { description: 'null for test messages and digests' }),
    contact: Type.Object(
      { id: Type.String(), name: Type.Union([Type.String(), Type.Null()], { description: 'null once the contact is removed' }) },
      { additionalProperties: false },
    ),
    channel: Type.Enum([...CONTACT_CHANNELS]),
    severity: SeveritySchema,
    kind: Type.Enum(['alert', 'digest', 'test']),
    text: Type.String({ description: 'The message as sent (unaccented GSM-7 for SMS)' }),
    state: Type.Enum([...OUTBOX_STATES]),
    attempts: Type.Integer(),
    created_at: Iso,
    sent_at: Type.Union([Iso, Type.Null()]),
    next_attempt_at: Type.Union([Iso, Type.Null()], { description: 'pending or deferred: when it is tried next' }),
    provider_message_id: Type.Union([Type.String(), Type.Null()]),
    provider_answer: Type.Union([Type.String(), Type.Null()], {
      description: 'The provider\'s last answer ("accepted (id)") or error ("code: message"), or why it was not sent',
    }),
  },
  { additionalProperties: false },
)

export const notificationRoutes: RoutePlugin<NotificationRouteDeps> = async (app, deps) => {
  app.get(
    '/notifications',
    {
      config: { roles: ['officer'] },
      schema: {
        tags: ['notifications'],
        summary: "The outbox, newest first: each message, its state and the provider's answer",
        querystring: Type.Object(
          {
            state: Type.Optional(Type.Enum([...OUTBOX_STATES])),
            contact: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'Subscription id' })),
            alert: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Alert id' })),
            channel: Type.Optional(Type.Enum([...CONTACT_CHANNELS])),
            limit: Type.Optional(Limit),
            cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$', description: 'The `next` value of the previous page' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(NotificationSchema), ...AuthErrors },
      },
    },
    async (request) => {
      const q = request.query
      return deps.notifier.notifications(
        { state: q.state, contact: q.contact, alert: q.alert, channel: q.channel, scope: scopeOf(request.actor) },
        { limit: q.limit ?? 50, cursor: q.cursor === undefined ? undefined : Number(q.cursor) },
      )
    },
  )
}
