import Type from 'typebox'
import { WEBHOOK_EVENTS } from '../../webhooks/events.ts'
import type { Webhooks } from '../../webhooks/index.ts'
import { AuthErrors, ErrorSchema } from '../schemas.ts'
import { notFound } from '../scope.ts'
import type { RoutePlugin } from '../types.ts'

// /api/v1/webhooks (admin): subscriptions of upstream systems and their delivery log
// (docs/api.md "Webhooks", docs/webhooks.md).

export interface WebhookRouteDeps {
  webhooks: Webhooks
}

const ADMIN = ['admin'] as const
const Id = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', maxLength: 64, description: 'Subscription id (wh...)' })
const DeliveryId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', maxLength: 64, description: 'Delivery id (d...)' })
const Url = Type.String({
  format: 'uri',
  pattern: '^https?://',
  maxLength: 2000,
  description: 'Where deliveries are POSTed (http or https)',
})
const Events = Type.Array(Type.Enum([...WEBHOOK_EVENTS]), {
  minItems: 1,
  maxItems: WEBHOOK_EVENTS.length,
  uniqueItems: true,
  description: 'Events to deliver',
})
const Description = Type.String({ maxLength: 200 })
const Secret = Type.String({
  minLength: 16,
  maxLength: 200,
  description: 'Signing secret (default: one is made); shown only in this answer',
})

const WebhookSchema = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    events: Type.Array(Type.String()),
    description: Type.Optional(Type.String()),
    enabled: Type.Boolean(),
    consecutive_failures: Type.Integer(),
    disabled_at: Type.Optional(Type.String()),
    disabled_reason: Type.Optional(Type.String()),
    created_at: Type.String(),
    updated_at: Type.String(),
  },
  { additionalProperties: false },
)
const DeliverySchema = Type.Object(
  {
    id: Type.String(),
    webhook: Type.String(),
    key: Type.String({ description: 'Idempotency key (X-IOC-Delivery): the event id' }),
    event: Type.String(),
    state: Type.Enum(['pending', 'delivered']),
    attempts: Type.Integer(),
    next_attempt_at: Type.Optional(Type.String()),
    created_at: Type.String(),
    delivered_at: Type.Optional(Type.String()),
    response_code: Type.Optional(Type.Integer()),
    last_error: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
)

const IdParams = Type.Object({ id: Id })

/**
 * The options of an admin route of this file: every one is for admins only and listed under
 * `webhooks` in the OpenAPI document; `schema` holds what differs. Generic, so the TypeBox type
 * provider still types each route's request and answers from its own schema.
 */
const admin = <S extends object>(schema: S) => ({ config: { roles: ADMIN }, schema: { tags: ['webhooks'], ...schema } })

export const webhookRoutes: RoutePlugin<WebhookRouteDeps> = async (app, deps) => {
  const reg = () => deps.webhooks.registry
  const one = async (id: string) => {
    const w = await reg().get(id)
    if (!w) throw notFound(`webhook ${id} does not exist`)
    return w
  }

  app.get(
    '/webhooks',
    admin({
      summary: 'List webhook subscriptions',
      response: { 200: Type.Object({ items: Type.Array(WebhookSchema) }), ...AuthErrors },
    }),
    async () => ({ items: await reg().list() }),
  )

  app.post(
    '/webhooks',
    admin({
      summary: 'Subscribe a URL to events; the answer holds the signing secret, shown only here',
      body: Type.Object(
        { url: Url, events: Events, description: Type.Optional(Description), secret: Type.Optional(Secret) },
        { additionalProperties: false },
      ),
      response: { 201: Type.Object({ webhook: WebhookSchema, secret: Type.String() }), ...AuthErrors },
    }),
    async (request, reply) => reply.code(201).send(await reg().create(request.body)),
  )

  app.get(
    '/webhooks/:id',
    admin({ summary: 'One subscription', params: IdParams, response: { 200: WebhookSchema, ...AuthErrors, 404: ErrorSchema } }),
    async (request) => one(request.params.id),
  )

  app.patch(
    '/webhooks/:id',
    admin({
      summary: 'Change a subscription; `enabled: true` re-enables a disabled one (its waiting deliveries are sent)',
      params: IdParams,
      body: Type.Object(
        {
          url: Type.Optional(Url),
          events: Type.Optional(Events),
          description: Type.Optional(Description),
          enabled: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
      response: { 200: WebhookSchema, ...AuthErrors, 404: ErrorSchema },
    }),
    async (request) => {
      const w = (await reg().update(request.params.id, request.body)) ?? (await one(request.params.id))
      if (request.body.enabled) deps.webhooks.kick()
      return w
    },
  )

  app.delete(
    '/webhooks/:id',
    admin({
      summary: 'Delete a subscription and its delivery log',
      params: IdParams,
      response: { 204: Type.Null(), ...AuthErrors, 404: ErrorSchema },
    }),
    async (request, reply) => {
      if (!(await reg().remove(request.params.id))) throw notFound(`webhook ${request.params.id} does not exist`)
      return reply.code(204).send(null)
    },
  )

  app.get(
    '/webhooks/:id/deliveries',
    admin({
      summary: 'Delivery log of a subscription, newest first: state, response code, attempts, next attempt',
      params: IdParams,
      querystring: Type.Object(
        {
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
          cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$', description: 'The `next` value of the previous page' })),
        },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object({ items: Type.Array(DeliverySchema), next: Type.Union([Type.String(), Type.Null()]) }),
        ...AuthErrors,
        404: ErrorSchema,
      },
    }),
    async (request) => {
      await one(request.params.id)
      const q = request.query
      return reg().deliveries(request.params.id, { limit: q.limit ?? 50, before: q.cursor !== undefined ? Number(q.cursor) : undefined })
    },
  )

  app.post(
    '/webhooks/:id/redeliver/:delivery',
    admin({
      summary: 'Send a delivery again: same body, same X-IOC-Delivery key, a fresh signature',
      params: Type.Object({ id: Id, delivery: DeliveryId }),
      response: { 202: DeliverySchema, ...AuthErrors, 404: ErrorSchema },
    }),
    async (request, reply) => {
      await one(request.params.id)
      const d = await reg().redeliver(request.params.id, request.params.delivery)
      if (!d) throw notFound(`delivery ${request.params.delivery} of webhook ${request.params.id} does not exist`)
      deps.webhooks.kick()
      return reply.code(202).send(d)
    },
  )
}
