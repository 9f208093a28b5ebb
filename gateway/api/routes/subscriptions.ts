import Type from 'typebox'
import { AlertKindSchema, SeveritySchema } from '../../alerts/schema.ts'
import type { Notifier } from '../../notify/notifier.ts'
import { CONTACT_CHANNELS } from '../../notify/types.ts'
import { ROLES } from '../../registry/types.ts'
import { AuthErrors, Cursor, ErrorSchema, Limit, PageOf } from '../schemas.ts'
import type { RoutePlugin } from '../types.ts'

export interface SubscriptionRouteDeps {
  notifier: Notifier
}

const Place = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$' })
const Phone = Type.String({ pattern: '^(\\+?84|0)[0-9]{9,10}$', description: 'Vietnamese number: 0xxxxxxxxx, 84xxxxxxxxx or +84xxxxxxxxx' })
const ZaloUser = Type.String({ pattern: '^[0-9A-Za-z_-]{1,64}$', description: 'Zalo user id of an OA follower' })
const Channel = Type.Enum([...CONTACT_CHANNELS], { description: 'sms (configured SMS provider), zalo_zns (template by phone), zalo_oa (message to a follower)' })

const SubscriptionSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  phone: Type.Optional(Type.String()),
  zalo_user_id: Type.Optional(Type.String()),
  role: Type.String(),
  tier: Type.Integer(),
  kinds: Type.Optional(Type.Array(Type.String())),
  stations: Type.Optional(Type.Array(Type.String())),
  districts: Type.Optional(Type.Array(Type.String())),
  min_severity: SeveritySchema,
  channels: Type.Array(Channel),
  created_at: Type.String({ format: 'date-time' }),
}, { additionalProperties: false })

// The answer to POST: the contact, plus one warning per channel no provider carries (the contact is
// kept: the provider may be configured later, and the officer is told now rather than at the flood).
const CreatedSubscription = Type.Object({
  ...SubscriptionSchema.properties,
  warnings: Type.Optional(Type.Array(Type.String(), { description: 'e.g. "sms: no SMS provider configured (...); messages to this contact cannot be delivered"' })),
}, { additionalProperties: false })

const NewSubscription = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 100 }),
  phone: Type.Optional(Phone),
  zalo_user_id: Type.Optional(ZaloUser),
  role: Type.Enum([...ROLES], { description: 'The contact\'s role in the operations centre' }),
  tier: Type.Optional(Type.Integer({ minimum: 1, maximum: 9, description: '1 first; n+1 when an alert stays unacknowledged (escalation)' })),
  kinds: Type.Optional(Type.Array(Type.Union([AlertKindSchema, Type.Literal('report')], { description: 'Alert kinds, or `report`: the daily situation report summary (docs/reports.md)' }), { maxItems: 10 })),
  stations: Type.Optional(Type.Array(Place, { maxItems: 200 })),
  districts: Type.Optional(Type.Array(Place, { maxItems: 200 })),
  min_severity: Type.Optional(SeveritySchema),
  channels: Type.Array(Channel, { minItems: 1, maxItems: 3 }),
}, { additionalProperties: false })

export const subscriptionRoutes: RoutePlugin<SubscriptionRouteDeps> = async (app, deps) => {
  app.get('/subscriptions', {
    config: { roles: ['officer'] },
    schema: {
      tags: ['notifications'], summary: 'Contacts and the alerts they receive',
      querystring: Type.Object({ limit: Type.Optional(Limit), cursor: Type.Optional(Cursor) }, { additionalProperties: false }),
      response: { 200: PageOf(SubscriptionSchema), ...AuthErrors },
    },
  }, async (request) => deps.notifier.contacts.list({ limit: request.query.limit ?? 50, cursor: request.query.cursor }))

  app.post('/subscriptions', {
    config: { roles: ['admin'] },
    schema: { tags: ['notifications'], summary: 'Add a contact with its filters and channels', body: NewSubscription, response: { 201: CreatedSubscription, ...AuthErrors } },
  }, async (request, reply) => {
    const b = request.body
    if (b.channels.some((c) => c !== 'zalo_oa') && !b.phone) throw Object.assign(new Error('body/phone is required for the sms and zalo_zns channels'), { statusCode: 400 })
    if (b.channels.includes('zalo_oa') && !b.zalo_user_id) throw Object.assign(new Error('body/zalo_user_id is required for the zalo_oa channel'), { statusCode: 400 })
    const c = deps.notifier.contacts.create(b)
    const warnings = deps.notifier.contactWarnings(c.channels)
    if (warnings.length > 0) request.log.warn({ contact: c.id, actor: request.actor?.id, warnings }, 'subscription added on channels without a provider')
    else request.log.info({ contact: c.id, actor: request.actor?.id }, 'subscription added')
    return reply.code(201).send(warnings.length > 0 ? { ...c, warnings } : c)
  })

  app.delete('/subscriptions/:id', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['notifications'], summary: 'Remove a contact',
      params: Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) }, { additionalProperties: false }),
      response: { 204: Type.Null(), ...AuthErrors, 404: ErrorSchema },
    },
  }, async (request, reply) => {
    if (!deps.notifier.contacts.remove(request.params.id)) throw Object.assign(new Error(`subscription ${request.params.id} not found`), { statusCode: 404 })
    return reply.code(204).send(null)
  })
}
