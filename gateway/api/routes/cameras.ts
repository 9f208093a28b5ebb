import Type from 'typebox'
import Value from 'typebox/value'
import type { DeviceRegistry } from '../../registry/types.ts'
import { cameraConfigProblem } from '../../vision/camera-config.ts'
import { CameraVisionSchema, CountZoneSchema, FloodZoneSchema, type CameraVisionConfig } from '../../vision/config.ts'
import { DetectionRecordSchema, type DetectionPage } from '../../vision/detection-log.ts'
import { formatSchemaErrors, httpError } from '../errors.ts'
import { AuthErrors, Cursor, ErrorSchema, Limit, PageOf, DeviceIdParams } from '../schemas.ts'
import { canSee, notFound } from '../scope.ts'
import { auditActor, type ApiActor, type RoutePlugin } from '../types.ts'

/** What the camera routes need from the vision capability (createVision's result fits). */
export interface CameraRouteDeps {
  vision:
    | {
        snapshot(camera: string): Promise<Buffer | null>
        detections(camera: string, from: number, to: number, limit: number, cursor?: number): Promise<DetectionPage>
        setCameraConfig(camera: string, config: CameraVisionConfig): void
      }
    // Vision off (no model files): snapshot and detections answer 503 with the reason and what to
    // run; a camera's configuration is still kept, and used once vision runs.
    | { unavailable(): string }
  registry?: Pick<DeviceRegistry, 'getDevice' | 'getCameraConfig' | 'setCameraConfig'> | undefined
}

const CameraConfigResponse = Type.Object(
  {
    camera: Type.String(),
    config: CameraVisionSchema,
    updated_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'null: never set, the defaults apply' }),
  },
  { additionalProperties: false },
)

type SchemaErrors = Parameters<typeof formatSchemaErrors>[0]

/**
 * The first schema error of a camera configuration as one sentence naming the field. A zone is a
 * union (count or flood): its errors are taken from the branch its `kind` names, so a polygon of
 * two points reads "body/zones/0/polygon must NOT have fewer than 3 items", not "zones/0 is not valid".
 */
function explainConfig(body: unknown): string {
  const zones = (body as { zones?: unknown } | null)?.zones
  if (Array.isArray(zones)) {
    for (const [i, z] of zones.entries()) {
      const kind = (z as { kind?: unknown } | null)?.kind
      const branch = kind === 'count' ? CountZoneSchema : kind === 'flood' ? FloodZoneSchema : null
      if (!branch || Value.Check(branch, z)) continue
      const errs = [...Value.Errors(branch, z)].map((e) => ({
        ...e,
        instancePath: `/zones/${i}${e.instancePath}`,
      })) as unknown as SchemaErrors
      const msg = formatSchemaErrors(errs, 'body')
      return /\/polygon\//.test(msg) ? `${msg} (points are [x, y] in normalised frame coordinates, 0..1)` : msg
    }
  }
  return formatSchemaErrors([...Value.Errors(CameraVisionSchema, body)] as unknown as SchemaErrors, 'body')
}

function badConfig(message: string): Error {
  // `validation` makes the API count it as a validation refusal (errors.ts).
  return Object.assign(new Error(message), { statusCode: 400, validation: [] })
}

// ISO 8601 or epoch milliseconds, as the readings routes accept.
const Time = Type.String({ minLength: 1, maxLength: 40, description: 'ISO 8601 time or epoch milliseconds' })

function parseTime(v: string | undefined, field: string, fallback: number): number {
  if (v === undefined) return fallback
  const ms = /^\d{1,15}$/.test(v) ? Number(v) : Date.parse(v)
  if (!Number.isFinite(ms)) {
    throw httpError(400, `querystring/${field} must be an ISO 8601 time or epoch milliseconds, got "${v}"`)
  }
  return ms
}

export const cameraRoutes: RoutePlugin<CameraRouteDeps> = async (app, deps) => {
  function working() {
    const v = deps.vision
    if ('unavailable' in v) throw httpError(503, v.unavailable())
    return v
  }
  /** 404 unless `id` is a registered camera the caller may see (a scoped user: of their districts or stations). */
  async function ensureCamera(id: string, actor: ApiActor | null): Promise<void> {
    const missing = () => notFound(`no camera "${id}" is registered (GET /api/v1/devices?kind=camera lists them)`)
    if (!deps.registry) {
      // Without the registry a camera's place is unknown: only an unscoped caller may look.
      if (actor?.scope) throw missing()
      return
    }
    const dev = await deps.registry.getDevice(id)
    if (!dev || dev.kind !== 'camera' || !canSee(actor, dev)) throw missing()
  }

  app.get(
    '/cameras/:id/snapshot',
    {
      config: { roles: ['viewer', 'officer', 'technician'] },
      schema: {
        tags: ['cameras'],
        summary: 'Latest analysed frame with boxes, labels and zone outlines drawn (JPEG)',
        params: DeviceIdParams,
        response: {
          200: Type.String({ contentMediaType: 'image/jpeg', description: 'JPEG image' }),
          ...AuthErrors,
          404: ErrorSchema,
          503: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      await ensureCamera(request.params.id, request.actor)
      const jpeg = await working().snapshot(request.params.id)
      if (!jpeg) {
        throw notFound(
          `camera "${request.params.id}" has no analysed frame yet; it must publish JPEGs on devices/${request.params.id}/frames`,
        )
      }
      return reply
        .header('cache-control', 'no-store')
        .type('image/jpeg')
        .send(jpeg as never)
    },
  )

  app.get(
    '/cameras/:id/config',
    {
      config: { roles: ['viewer', 'officer', 'technician'] },
      schema: {
        tags: ['cameras'],
        summary: "The camera's vision configuration: zones, tiling, dry reference (docs/vision.md)",
        params: DeviceIdParams,
        response: { 200: CameraConfigResponse, ...AuthErrors, 404: ErrorSchema },
      },
    },
    async (request) => {
      const id = request.params.id
      await ensureCamera(id, request.actor)
      const rec = await deps.registry?.getCameraConfig(id)
      return { camera: id, config: (rec?.config ?? {}) as CameraVisionConfig, updated_at: rec?.updated_at ?? null }
    },
  )

  app.put(
    '/cameras/:id/config',
    {
      config: { roles: ['technician'], audited: true },
      attachValidation: true,
      schema: {
        tags: ['cameras'],
        summary: "Replaces the camera's vision configuration; the running pipeline uses it from the next frame",
        params: DeviceIdParams,
        body: CameraVisionSchema,
        response: { 200: CameraConfigResponse, ...AuthErrors, 404: ErrorSchema },
      },
    },
    async (request) => {
      const id = request.params.id
      if (request.validationError) {
        // Params are checked before the body: a bad id is still answered about the id.
        if ((request.validationError as { validationContext?: string }).validationContext !== 'body')
          throw badConfig(request.validationError.message)
        throw badConfig(explainConfig(request.body))
      }
      await ensureCamera(id, request.actor)
      const problem = cameraConfigProblem(request.body)
      if (problem) throw badConfig(`body/${problem.path} ${problem.message}`)
      if (!deps.registry) throw new Error('camera configuration needs the registry')
      const rec = await deps.registry.setCameraConfig(id, request.body as Record<string, unknown>, auditActor(request.actor))
      if (!('unavailable' in deps.vision)) deps.vision.setCameraConfig(id, request.body)
      return { camera: id, config: request.body, updated_at: rec.updated_at }
    },
  )

  app.get(
    '/cameras/:id/detections',
    {
      config: { roles: ['viewer', 'officer', 'technician'] },
      schema: {
        tags: ['cameras'],
        summary: 'Detection records (counts by class, objects with boxes, water_ratio) between from and to',
        params: DeviceIdParams,
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
      await ensureCamera(request.params.id, request.actor)
      const vision = working()
      const q = request.query
      const to = parseTime(q.to, 'to', Date.now() + 1)
      const from = parseTime(q.from, 'from', to - 3_600_000)
      if (from > to) throw httpError(400, 'querystring/from must not be after querystring/to')
      let cursor: number | undefined
      if (q.cursor !== undefined) {
        if (!/^\d{1,15}$/.test(q.cursor)) throw httpError(400, 'querystring/cursor is not a cursor this API gave')
        cursor = Number(q.cursor)
      }
      return vision.detections(request.params.id, from, to, q.limit ?? 50, cursor)
    },
  )
}
