import Type from 'typebox'
import type { DeviceControl } from '../../control/control.ts'
import type { DeviceRegistry } from '../../registry/types.ts'
import { CommandAck } from '../../protocol/schemas.ts'
import { AuthErrors, DeviceId, ErrorSchema, DeviceIdParams } from '../schemas.ts'
import { visibleDevice } from '../scope.ts'
import type { RoutePlugin } from '../types.ts'

export interface DeviceControlRouteDeps {
  control: DeviceControl
  /** For a scoped user's limits (the gateway's registry). */
  registry: Pick<DeviceRegistry, 'getDevice'>
}

const ConfigBody = Type.Object(
  {
    interval_s: Type.Optional(Type.Number({ minimum: 0.05, maximum: 86_400, description: 'Sampling interval, seconds' })),
  },
  { additionalProperties: false },
)
const CommandBody = Type.Object(
  {
    cmd: Type.String({ pattern: '^[a-z][a-z0-9_-]{0,31}$', maxLength: 32, description: 'e.g. ping, read-now, status' }),
    args: Type.Optional(
      Type.Record(Type.String({ maxLength: 64 }), Type.Union([Type.String({ maxLength: 256 }), Type.Number(), Type.Boolean()]), {
        maxProperties: 16,
      }),
    ),
  },
  { additionalProperties: false },
)
const Command = Type.Object({
  id: Type.String(),
  device: Type.String(),
  cmd: Type.String(),
  args: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  sent_at: Type.String(),
  ack: Type.Union([CommandAck, Type.Null()]),
})

export const deviceControlRoutes: RoutePlugin<DeviceControlRouteDeps> = async (app, deps) => {
  app.put(
    '/devices/:id/config',
    {
      config: { roles: ['technician'] },
      schema: {
        tags: ['devices'],
        summary: "Set a device's configuration (published retained on devices/{id}/config)",
        params: DeviceIdParams,
        body: ConfigBody,
        response: { 200: ConfigBody, ...AuthErrors, 404: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (request) => {
      await visibleDevice(deps.registry, request.actor, request.params.id)
      return deps.control.setConfig(request.params.id, request.body)
    },
  )

  app.post(
    '/devices/:id/cmd',
    {
      config: { roles: ['technician'] },
      schema: {
        tags: ['devices'],
        summary: 'Send a command to a device (devices/{id}/cmd); its answer arrives on cmd/ack',
        params: DeviceIdParams,
        body: CommandBody,
        response: { 202: Command, ...AuthErrors, 404: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (request, reply) => {
      await visibleDevice(deps.registry, request.actor, request.params.id)
      const sent = await deps.control.sendCommand(request.params.id, request.body.cmd, request.body.args)
      return reply.code(202).send(sent)
    },
  )

  app.get(
    '/devices/:id/cmd/:cmdId',
    {
      config: { roles: ['technician', 'officer', 'viewer'] },
      schema: {
        tags: ['devices'],
        summary: "A command sent to a device, with the device's answer once it came",
        params: Type.Object(
          { id: DeviceId, cmdId: Type.String({ pattern: '^[0-9a-f]{16}$', maxLength: 16 }) },
          { additionalProperties: false },
        ),
        response: { 200: Command, ...AuthErrors, 404: ErrorSchema },
      },
    },
    async (request, reply) => {
      await visibleDevice(deps.registry, request.actor, request.params.id)
      const found = deps.control.getCommand(request.params.id, request.params.cmdId)
      if (!found)
        return reply.code(404).send({
          statusCode: 404,
          error: 'Not Found',
          message: `no recent command "${request.params.cmdId}" for device "${request.params.id}"`,
        })
      return found
    },
  )
}
