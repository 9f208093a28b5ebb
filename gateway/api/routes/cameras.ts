import Type from 'typebox'
import type { DeviceRegistry } from '../../registry/types.ts'
import { AuthErrors, Cursor, DeviceId, ErrorSchema, Limit, PageOf } from '../schemas.ts'
import type { RoutePlugin } from '../types.ts'

/** What the camera routes need from the vision capability (createVision's result fits). */
export interface CameraRouteDeps {
  vision:
    | {
        snapshot(camera: string): Promise<Buffer | null>
        detections(camera: string, from: number, to: number, limit: number, cursor?: number): { items: unknown[]; next: string | null }
      }
    // Vision off (no model files): both routes answer 503 with the reason and what to run.
    | { unavailable(): string }
  registry?: Pick<DeviceRegistry, 'getDevice'> | undefined
}

const Box = Type.Tuple([Type.Number(), Type.Number(), Type.Number(), Type.Number()], { description: '[x1, y1, x2, y2] in source-frame pixels' })
const Counts = Type.Object(
  { car: Type.Integer(), motorcycle: Type.Integer(), bus: Type.Integer(), truck: Type.Integer(), bicycle: Type.Integer() },
  { additionalProperties: false },
)
export const DetectionRecordSchema = Type.Object(
  {
    ts: Type.String({ format: 'date-time', description: 'Capture time of the frame' }),
    camera: Type.String(),
    counts: Counts,
    objects: Type.Array(Type.Object({ class: Type.String(), score: Type.Number(), box: Box }, { additionalProperties: false })),
    water_ratio: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: "Share of the flood zone covered by water (frames where the segmenter ran)" })),
    zones: Type.Optional(
      Type.Array(
        Type.Object(
          {
            zone: Type.String(),
            counts: Counts,
            occupancy: Type.Number(),
            congestion: Type.Integer({ minimum: 0, maximum: 3 }),
            water_ratio: Type.Optional(Type.Number()),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false },
)

// ISO 8601 or epoch milliseconds, as the readings routes accept.
const Time = Type.String({ minLength: 1, maxLength: 40, description: 'ISO 8601 time or epoch milliseconds' })

function parseTime(v: string | undefined, field: string, fallback: number): number {
  if (v === undefined) return fallback
  const ms = /^\d{1,15}$/.test(v) ? Number(v) : Date.parse(v)
  if (!Number.isFinite(ms)) {
    throw Object.assign(new Error(`querystring/${field} must be an ISO 8601 time or epoch milliseconds, got "${v}"`), { statusCode: 400 })
  }
  return ms
}

export const cameraRoutes: RoutePlugin<CameraRouteDeps> = async (app, deps) => {
  function working() {
    const v = deps.vision
    if ('unavailable' in v) throw Object.assign(new Error(v.unavailable()), { statusCode: 503 })
    return v
  }
  async function ensureCamera(id: string): Promise<void> {
    if (!deps.registry) return
    const dev = await deps.registry.getDevice(id)
    if (!dev || dev.kind !== 'camera') {
      throw Object.assign(new Error(`no camera "${id}" is registered (GET /api/v1/devices?kind=camera lists them)`), { statusCode: 404 })
    }
  }

  app.get(
    '/cameras/:id/snapshot',
    {
      config: { roles: ['viewer', 'officer', 'technician'] },
      schema: {
        tags: ['cameras'],
        summary: 'Latest analysed frame with boxes, labels and zone outlines drawn (JPEG)',
        params: Type.Object({ id: DeviceId }, { additionalProperties: false }),
        response: { 200: Type.String({ contentMediaType: 'image/jpeg', description: 'JPEG image' }), ...AuthErrors, 404: ErrorSchema, 503: ErrorSchema },
      },
    },
    async (request, reply) => {
      await ensureCamera(request.params.id)
      const jpeg = await working().snapshot(request.params.id)
      if (!jpeg) {
        throw Object.assign(new Error(`camera "${request.params.id}" has no analysed frame yet; it must publish JPEGs on devices/${request.params.id}/frames`), { statusCode: 404 })
      }
      return reply.header('cache-control', 'no-store').type('image/jpeg').send(jpeg as never)
    },
  )

  app.get(
    '/cameras/:id/detections',
    {
      config: { roles: ['viewer', 'officer', 'technician'] },
      schema: {
        tags: ['cameras'],
        summary: 'Detection records (counts by class, objects with boxes, water_ratio) between from and to',
        params: Type.Object({ id: DeviceId }, { additionalProperties: false }),
        querystring: Type.Object(
          {
            from: Type.Optional(Time),
            to: Type.Optional(Time),
            limit: Type.Optional(Limit),
            cursor: Type.Optional(Cursor),
          },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(DetectionRecordSchema), ...AuthErrors, 404: ErrorSchema, 503: ErrorSchema },
      },
    },
    async (request) => {
      await ensureCamera(request.params.id)
      working()
      const q = request.query
      const to = parseTime(q.to, 'to', Date.now() + 1)
      const from = parseTime(q.from, 'from', to - 3_600_000)
      if (from > to) throw Object.assign(new Error('querystring/from must not be after querystring/to'), { statusCode: 400 })
      let cursor: number | undefined
      if (q.cursor !== undefined) {
        if (!/^\d{1,15}$/.test(q.cursor)) throw Object.assign(new Error('querystring/cursor is not a cursor this API gave'), { statusCode: 400 })
        cursor = Number(q.cursor)
      }
      return working().detections(request.params.id, from, to, q.limit ?? 50, cursor) as never
    },
  )
}
