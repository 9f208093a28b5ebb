import Type from 'typebox'
import { REJECT_REASONS, type RejectRecord } from '../../ingest/index.ts'
import type { DeviceRegistry } from '../../registry/types.ts'
import { AuthErrors, ErrorSchema, DeviceIdParams } from '../schemas.ts'
import { visibleDevice } from '../scope.ts'
import type { RoutePlugin } from '../types.ts'

export interface RejectRouteDeps {
  registry: DeviceRegistry
  /** `createIngest(...)` result (or anything that keeps the recent refusals per device). */
  ingest: { recentRejects(deviceId: string): RejectRecord[] }
}

const RejectSchema = Type.Object(
  {
    ts: Type.String({ format: 'date-time', description: 'When the message arrived' }),
    topic: Type.String(),
    reason: Type.String({
      maxLength: 64,
      description: `Why it was refused: for telemetry and status the \`reason\` label of iocgw_ingest_rejected_total (${REJECT_REASONS.join(', ')}); for a camera frame that of iocgw_vision_frames_rejected_total`,
    }),
    message: Type.String({ description: 'What is wrong, naming the field' }),
    excerpt: Type.String({ description: 'Start of the payload, printable characters only' }),
  },
  { additionalProperties: false },
)

/** GET /devices/:id/rejects: the last refused messages of a device, newest first. */
export const rejectRoutes: RoutePlugin<RejectRouteDeps> = async (app, deps) => {
  app.get(
    '/devices/:id/rejects',
    {
      config: { roles: ['technician'] },
      schema: {
        tags: ['devices'],
        summary:
          "The device's most recently refused messages (telemetry, status, camera frames) with the reason, newest first (kept in memory, last few per device)",
        params: DeviceIdParams,
        response: {
          200: Type.Object({ items: Type.Array(RejectSchema), next: Type.Null() }, { additionalProperties: false }),
          ...AuthErrors,
          404: ErrorSchema,
        },
      },
    },
    async (request) => {
      const id = request.params.id
      await visibleDevice(deps.registry, request.actor, id)
      return { items: deps.ingest.recentRejects(id), next: null }
    },
  )
}

export default rejectRoutes
