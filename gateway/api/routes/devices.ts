import Type from 'typebox'
import { DEVICE_KINDS, DEVICE_STATES, type Device, type DeviceRegistry } from '../../registry/types.ts'
import { AuthErrors, Cursor, DeviceId, ErrorSchema, Limit, PageOf, DeviceIdParams, pageAsked } from '../schemas.ts'
import { requirePlaceInScope, scopeOf, visibleDevice } from '../scope.ts'
import { auditActor, type RoutePlugin } from '../types.ts'

/**
 * Where devices reach the broker: config `mqtt.host`, `mqtt.port` and `mqtt.publicUrl`
 * (docs/operations.md). Given by app.ts, so the routes do not import the configuration's schema,
 * which stands above them (docs/architecture.md).
 */
export interface MqttAddress {
  host: string
  port: number
  publicUrl?: string | undefined
}

export interface DeviceRouteDeps {
  registry: DeviceRegistry
  config: { mqtt: MqttAddress }
}

const Kind = Type.Enum([...DEVICE_KINDS], { description: 'Device kind' })
const State = Type.Enum([...DEVICE_STATES], { description: 'Device state' })
// Station ids follow the config's slug style (kim-long); names and districts are free text.
const Station = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$',
  description: 'Station id, e.g. kim-long',
})
const District = Type.String({ minLength: 1, maxLength: 100, description: 'District (Vietnamese text welcome)' })
const Name = Type.String({ minLength: 1, maxLength: 200, description: 'Name (Vietnamese text welcome)' })
const Location = Type.Object(
  { lat: Type.Number({ minimum: -90, maximum: 90 }), lon: Type.Number({ minimum: -180, maximum: 180 }) },
  { additionalProperties: false },
)
const Tags = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 })
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])

export const DeviceSchema = Type.Object(
  {
    id: Type.String(),
    kind: Kind,
    name: Type.String(),
    station: Type.Union([Type.String(), Type.Null()]),
    district: Type.Union([Type.String(), Type.Null()]),
    location: Type.Union([Type.Object({ lat: Type.Number(), lon: Type.Number() }), Type.Null()]),
    tags: Type.Array(Type.String()),
    state: State,
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
)

/** The only answer that holds a device secret (register and rotate-secret). */
const WithCredentials = Type.Object(
  {
    device: DeviceSchema,
    credentials: Type.Object(
      {
        username: Type.String({ description: 'The device id' }),
        password: Type.String({ description: 'The device secret; shown only in this answer, store it on the device now' }),
        mqtt_url: Type.String(),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
)

const NewDeviceBody = Type.Object(
  {
    id: Type.Optional(DeviceId),
    kind: Kind,
    name: Name,
    station: Type.Optional(Station),
    district: Type.Optional(District),
    location: Type.Optional(Location),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false },
)

const PatchBody = Type.Object(
  {
    name: Type.Optional(Name),
    station: Type.Optional(Nullable(Station)),
    district: Type.Optional(Nullable(District)),
    location: Type.Optional(Nullable(Location)),
    tags: Type.Optional(Tags),
    state: Type.Optional(State),
  },
  { additionalProperties: false, minProperties: 1 },
)

const ListQuery = Type.Object(
  {
    kind: Type.Optional(Kind),
    station: Type.Optional(Station),
    state: Type.Optional(State),
    limit: Type.Optional(Limit),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
)

const WRITE = ['technician'] as const
const READ = ['technician', 'officer', 'viewer'] as const

/** The broker address handed to a device with its credentials. */
export function mqttUrlFor(mqtt: DeviceRouteDeps['config']['mqtt'], requestHost: string): string {
  if (mqtt.publicUrl) return mqtt.publicUrl
  // A wildcard bind address means nothing to a device: the host the caller reached the API by is
  // the best guess at an address the field can reach.
  const wildcard = mqtt.host === '0.0.0.0' || mqtt.host === '::' || mqtt.host === ''
  const host = wildcard ? requestHost || '127.0.0.1' : mqtt.host
  return `mqtt://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${mqtt.port}`
}

export const deviceRoutes: RoutePlugin<DeviceRouteDeps> = async (app, deps) => {
  const credentials = (device: Device, secret: string, hostname: string) => ({
    device,
    credentials: { username: device.id, password: secret, mqtt_url: mqttUrlFor(deps.config.mqtt, hostname) },
  })

  app.post(
    '/devices',
    {
      config: { roles: WRITE, audited: true },
      schema: {
        tags: ['devices'],
        summary: 'Register a device; the answer holds its MQTT password, shown only this once',
        body: NewDeviceBody,
        response: { 201: WithCredentials, ...AuthErrors, 409: ErrorSchema },
      },
    },
    async (request, reply) => {
      requirePlaceInScope(request.actor, request.body)
      const { device, secret } = await deps.registry.createDevice(request.body, auditActor(request.actor))
      request.log.info({ device: device.id, kind: device.kind }, 'device registered')
      return reply.code(201).send(credentials(device, secret, request.hostname))
    },
  )

  app.get(
    '/devices',
    {
      config: { roles: READ },
      schema: {
        tags: ['devices'],
        summary: 'List devices, filtered by kind, station and state, in pages',
        querystring: ListQuery,
        response: { 200: PageOf(DeviceSchema), ...AuthErrors },
      },
    },
    async (request) => {
      const { kind, station, state } = request.query
      return deps.registry.listDevices({ kind, station, state, scope: scopeOf(request.actor) }, pageAsked(request.query))
    },
  )

  app.get(
    '/devices/:id',
    {
      config: { roles: READ },
      schema: {
        tags: ['devices'],
        summary: 'One device',
        params: DeviceIdParams,
        response: { 200: DeviceSchema, ...AuthErrors, 404: ErrorSchema },
      },
    },
    async (request) => visibleDevice(deps.registry, request.actor, request.params.id),
  )

  app.patch(
    '/devices/:id',
    {
      config: { roles: WRITE, audited: true },
      schema: {
        tags: ['devices'],
        summary: 'Change a device (name, station, district, location, tags, state); disabling it closes its session',
        params: DeviceIdParams,
        body: PatchBody,
        response: { 200: DeviceSchema, ...AuthErrors, 404: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (request) => {
      const before = await visibleDevice(deps.registry, request.actor, request.params.id)
      requirePlaceInScope(request.actor, { ...before, ...request.body })
      return deps.registry.updateDevice(request.params.id, request.body, auditActor(request.actor))
    },
  )

  app.delete(
    '/devices/:id',
    {
      config: { roles: WRITE, audited: true },
      schema: {
        tags: ['devices'],
        summary: 'Remove a device: decommissioned, credentials deleted, session closed; its readings stay',
        params: DeviceIdParams,
        response: { 200: DeviceSchema, ...AuthErrors, 404: ErrorSchema },
      },
    },
    async (request) => {
      await visibleDevice(deps.registry, request.actor, request.params.id)
      return deps.registry.removeDevice(request.params.id, auditActor(request.actor))
    },
  )

  app.post(
    '/devices/:id/rotate-secret',
    {
      config: { roles: WRITE, audited: true },
      schema: {
        tags: ['devices'],
        summary: 'New MQTT password for a device; the old one stops working and its session is closed',
        params: DeviceIdParams,
        response: { 200: WithCredentials, ...AuthErrors, 404: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (request) => {
      await visibleDevice(deps.registry, request.actor, request.params.id)
      const { device, secret } = await deps.registry.rotateSecret(request.params.id, auditActor(request.actor))
      request.log.info({ device: device.id }, 'device secret rotated')
      return credentials(device, secret, request.hostname)
    },
  )
}
