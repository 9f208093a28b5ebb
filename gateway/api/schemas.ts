import Type, { type TSchema } from 'typebox'
import { DEVICE_ID_PATTERN } from '../registry/types.ts'

// Shared schemas for route files.

export const ErrorSchema = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    message: Type.String(),
  },
  { description: 'Error in Fastify shape, with a message a person can act on' },
)

/** The error responses every authenticated route may give, for the OpenAPI document. */
export const AuthErrors = {
  400: ErrorSchema,
  401: ErrorSchema,
  403: ErrorSchema,
  429: ErrorSchema,
} as const

export const DeviceId = Type.String({ pattern: DEVICE_ID_PATTERN, maxLength: 64, description: 'Device id: [a-z0-9][a-z0-9-]{2,63}' })

/** Token ids and other opaque server-made ids. */
export const OpaqueId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', maxLength: 64, description: 'Opaque id' })

/** `:id` of a route about one device. */
export const DeviceIdParams = Type.Object({ id: DeviceId }, { additionalProperties: false })

export const Cursor = Type.String({ minLength: 1, maxLength: 512, description: 'The `next` value of the previous page' })
/** Items per page when a list request names no `limit` (docs/api.md "Lists and paging"). */
export const PAGE_SIZE = 50
export const Limit = Type.Integer({ minimum: 1, maximum: 500, default: PAGE_SIZE, description: 'Items per page' })

/** The page a list request asks for: its cursor, and its limit or the default. */
export function pageAsked(q: { limit?: number | undefined; cursor?: string | undefined }): { limit: number; cursor: string | undefined } {
  return { limit: q.limit ?? PAGE_SIZE, cursor: q.cursor }
}

/** `?limit=&cursor=` of a list that has nothing else to filter by. */
export const PageQuery = Type.Object({ limit: Type.Optional(Limit), cursor: Type.Optional(Cursor) }, { additionalProperties: false })

/** `{"items": [...], "next": cursor|null}` of docs/api.md "Lists and paging". */
export function PageOf<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), next: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false })
}
