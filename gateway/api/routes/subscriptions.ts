import Type from 'typebox'
import { AlertKindSchema, SeveritySchema } from '../../alerts/schema.ts'
import type { Stations } from '../../domain/stations.ts'
import { patched, type ContactPatch, type NewContact } from '../../notify/contacts.ts'
import type { Notifier } from '../../notify/notifier.ts'
import { CONTACT_CHANNELS, type Contact } from '../../notify/types.ts'
import { ROLES } from '../../registry/types.ts'
import { AuthErrors, ErrorSchema, PageOf, PageQuery, pageAsked } from '../schemas.ts'
import { contactInScope, notFound, scopeOf, scopeText } from '../scope.ts'
import type { ApiActor, RoutePlugin } from '../types.ts'
import { httpError } from '../errors.ts'

export interface SubscriptionRouteDeps {
  notifier: Notifier
  /** The station table: a station's district decides whether a district-scoped user sees its contacts. */
  stations?: Stations | undefined
}

const Station = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$' })
// Districts are free text, as on devices and users ("Phú Xuân"), so that they match alerts' districts.
const District = Type.String({ minLength: 1, maxLength: 100 })
const Phone = Type.String({ pattern: '^(\\+?84|0)[0-9]{9,10}$', description: 'Vietnamese number: 0xxxxxxxxx, 84xxxxxxxxx or +84xxxxxxxxx' })
const ZaloUser = Type.String({ pattern: '^[0-9A-Za-z_-]{1,64}$', description: 'Zalo user id of an OA follower' })
const Channel = Type.Enum([...CONTACT_CHANNELS], {
  description: 'sms (configured SMS provider), zalo_zns (template by phone), zalo_oa (message to a follower)',
})
const HhMm = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:MM, Vietnam time (Asia/Ho_Chi_Minh, UTC+7)' })
const QuietHours = Type.Object(
  {
    from: HhMm,
    to: HhMm,
    bypass: Type.Optional(
      Type.Enum(['minor', 'major', 'critical'], {
        description: 'This severity and above are still sent during quiet hours; default critical',
      }),
    ),
  },
  { additionalProperties: false, description: 'Messages below `bypass` wait until `to` (docs/notify.md "Quiet hours")' },
)

const SubscriptionSchema = Type.Object(
  {
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
    quiet_hours: Type.Optional(
      Type.Object({ from: Type.String(), to: Type.String(), bypass: SeveritySchema }, { additionalProperties: false }),
    ),
    created_at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
)

// The answer to POST and PATCH: the contact, plus one warning per channel no provider carries (the
// contact is kept: the provider may be configured later, and the officer is told now rather than at the flood).
const SavedSubscription = Type.Object(
  {
    ...SubscriptionSchema.properties,
    warnings: Type.Optional(
      Type.Array(Type.String(), {
        description: 'e.g. "sms: no SMS provider configured (...); messages to this contact cannot be delivered"',
      }),
    ),
  },
  { additionalProperties: false },
)

const fields = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  phone: Phone,
  zalo_user_id: ZaloUser,
  role: Type.Enum([...ROLES], { description: "The contact's role in the operations centre" }),
  tier: Type.Integer({ minimum: 1, maximum: 9, description: '1 first; n+1 when an alert stays unacknowledged (escalation)' }),
  kinds: Type.Array(
    Type.Union([AlertKindSchema, Type.Literal('report')], {
      description: 'Alert kinds, or `report`: the daily situation report summary (docs/reports.md)',
    }),
    { maxItems: 10 },
  ),
  stations: Type.Array(Station, { maxItems: 200 }),
  districts: Type.Array(District, { maxItems: 200 }),
  min_severity: SeveritySchema,
  channels: Type.Array(Channel, { minItems: 1, maxItems: 3 }),
  quiet_hours: QuietHours,
}

const NewSubscription = Type.Object(
  {
    name: fields.name,
    phone: Type.Optional(fields.phone),
    zalo_user_id: Type.Optional(fields.zalo_user_id),
    role: fields.role,
    tier: Type.Optional(fields.tier),
    kinds: Type.Optional(fields.kinds),
    stations: Type.Optional(fields.stations),
    districts: Type.Optional(fields.districts),
    min_severity: Type.Optional(fields.min_severity),
    channels: fields.channels,
    quiet_hours: Type.Optional(fields.quiet_hours),
  },
  { additionalProperties: false },
)

// PATCH: any field of POST; null removes an optional one (phone, zalo_user_id, kinds, stations, districts, quiet_hours).
const nullable = <T extends Type.TSchema>(s: T) => Type.Optional(Type.Union([s, Type.Null()]))
const SubscriptionPatch = Type.Object(
  {
    name: Type.Optional(fields.name),
    phone: nullable(fields.phone),
    zalo_user_id: nullable(fields.zalo_user_id),
    role: Type.Optional(fields.role),
    tier: Type.Optional(fields.tier),
    kinds: nullable(fields.kinds),
    stations: nullable(fields.stations),
    districts: nullable(fields.districts),
    min_severity: Type.Optional(fields.min_severity),
    channels: Type.Optional(fields.channels),
    quiet_hours: nullable(fields.quiet_hours),
  },
  { additionalProperties: false, minProperties: 1 },
)

const IdParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) }, { additionalProperties: false })

const badRequest = (message: string) => httpError(400, message)

/** The checks the schema cannot express, on the contact as it will be stored. */
function checkContact(c: NewContact, actor: ApiActor | null, stations: Stations | undefined): void {
  if (c.channels.some((ch) => ch !== 'zalo_oa') && !c.phone) throw badRequest('body/phone is required for the sms and zalo_zns channels')
  if (c.channels.includes('zalo_oa') && !c.zalo_user_id) throw badRequest('body/zalo_user_id is required for the zalo_oa channel')
  if (c.quiet_hours && c.quiet_hours.from === c.quiet_hours.to)
    throw badRequest('body/quiet_hours: from and to are the same time; leave quiet_hours out for none')
  const scope = scopeOf(actor)
  if (!contactInScope(scope, c, stations)) {
    throw httpError(
      403,
      `user "${actor!.name}" may only keep contacts of ${scopeText(scope!)}: set the contact's stations or districts within them`,
    )
  }
}

export const subscriptionRoutes: RoutePlugin<SubscriptionRouteDeps> = async (app, deps) => {
  /** The contact when it exists and the caller may see it; else the same 404 as an unknown id (docs/api.md). */
  const visible = (actor: ApiActor | null, id: string): Contact => {
    const c = deps.notifier.contacts.get(id)
    if (!c || !contactInScope(scopeOf(actor), c, deps.stations)) throw notFound(`subscription ${id} not found`)
    return c
  }
  const answer = (c: Contact) => {
    const warnings = deps.notifier.contactWarnings(c.channels)
    return { contact: warnings.length > 0 ? { ...c, warnings } : c, warnings }
  }

  app.get(
    '/subscriptions',
    {
      config: { roles: ['officer'] },
      schema: {
        tags: ['notifications'],
        summary: 'Contacts and the alerts they receive (a scoped user: the contacts of their places)',
        querystring: PageQuery,
        response: { 200: PageOf(SubscriptionSchema), ...AuthErrors },
      },
    },
    async (request) => {
      const scope = scopeOf(request.actor)
      return deps.notifier.contacts.list(pageAsked(request.query), scope ? (c) => contactInScope(scope, c, deps.stations) : undefined)
    },
  )

  app.post(
    '/subscriptions',
    {
      config: { roles: ['officer'] },
      schema: {
        tags: ['notifications'],
        summary: 'Add a contact with its filters, channels and quiet hours',
        body: NewSubscription,
        response: { 201: SavedSubscription, ...AuthErrors },
      },
    },
    async (request, reply) => {
      checkContact(request.body, request.actor, deps.stations)
      const { contact, warnings } = answer(await deps.notifier.contacts.create(request.body))
      if (warnings.length > 0)
        request.log.warn({ contact: contact.id, actor: request.actor?.id, warnings }, 'subscription added on channels without a provider')
      else request.log.info({ contact: contact.id, actor: request.actor?.id }, 'subscription added')
      return reply.code(201).send(contact)
    },
  )

  app.patch(
    '/subscriptions/:id',
    {
      config: { roles: ['officer'] },
      schema: {
        tags: ['notifications'],
        summary: 'Change a contact: any field of POST; null removes an optional one',
        params: IdParams,
        body: SubscriptionPatch,
        response: { 200: SavedSubscription, ...AuthErrors, 404: ErrorSchema },
      },
    },
    async (request) => {
      const was = visible(request.actor, request.params.id)
      const patch = request.body as ContactPatch
      checkContact(patched(was, patch), request.actor, deps.stations)
      const changed = await deps.notifier.contacts.update(was.id, patch)
      // Removed meanwhile (another officer, or another node).
      if (!changed) throw notFound(`subscription ${was.id} not found`)
      const { contact, warnings } = answer(changed)
      request.log.info({ contact: contact.id, actor: request.actor?.id, fields: Object.keys(patch), warnings }, 'subscription changed')
      return contact
    },
  )

  app.delete(
    '/subscriptions/:id',
    {
      config: { roles: ['officer'] },
      schema: {
        tags: ['notifications'],
        summary: 'Remove a contact',
        params: IdParams,
        response: { 204: Type.Null(), ...AuthErrors, 404: ErrorSchema },
      },
    },
    async (request, reply) => {
      visible(request.actor, request.params.id)
      await deps.notifier.contacts.remove(request.params.id)
      request.log.info({ contact: request.params.id, actor: request.actor?.id }, 'subscription removed')
      return reply.code(204).send(null)
    },
  )
}
