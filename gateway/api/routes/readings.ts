import Type from 'typebox'
import { DERIVED_METRICS, METRICS, unitOf } from '../../protocol/metrics.ts'
import { DEVICE_KINDS, type DeviceRegistry } from '../../registry/types.ts'
import { AGGREGATE_FNS, MAX_QUERY_POINTS, type TimeSeriesStore } from '../../store/types.ts'
import { AuthErrors, ErrorSchema, DeviceIdParams } from '../schemas.ts'
import { canSee, scopeOf, visibleDevice } from '../scope.ts'
import type { RoutePlugin } from '../types.ts'
import { decodeCursor, encodeCursor } from '../../registry/cursor.ts'
import { httpError, storeFailure } from '../errors.ts'

export interface ReadingsRouteDeps {
  store: TimeSeriesStore
  registry: DeviceRegistry
}

/** Metrics the readings API answers: the canonical ones of docs/mqtt.md, the derived ones, and the AQI's pollutant. */
export const READING_METRICS = [...Object.keys(METRICS), ...Object.keys(DERIVED_METRICS), 'aqi_dominant'] as const

const READ = ['technician', 'officer', 'viewer'] as const
const DAY = 86_400_000
const DEFAULT_RAW_LIMIT = 10_000

// ISO 8601 with a zone (a bare local time would depend on the server's time zone), a bare date
// (UTC midnight), or epoch milliseconds.
const TIME_PATTERN = '^(-?\\d{1,15}|\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:?\\d{2}))?)$'
const Time = (what: string) =>
  Type.String({
    pattern: TIME_PATTERN,
    maxLength: 40,
    description: `${what}: ISO 8601 with a zone (2026-10-01T07:00:00+07:00, ...Z), a date (UTC), or epoch ms`,
  })
const EVERY_PATTERN = '^[1-9]\\d{0,6}(ms|s|m|h|d)$'
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: DAY }

const ReadingsQuery = Type.Object(
  {
    metric: Type.Enum([...READING_METRICS], { description: 'Metric name (canonical or derived)' }),
    from: Type.Optional(Time('Start, inclusive (default: 24 h before `to`)')),
    to: Type.Optional(Time('End, exclusive (default: now)')),
    every: Type.Optional(
      Type.String({
        pattern: EVERY_PATTERN,
        maxLength: 12,
        description: 'Aggregate into buckets of this size: 30s, 1m, 15m, 1h, 1d (at least 1s)',
      }),
    ),
    fn: Type.Optional(Type.Enum([...AGGREGATE_FNS], { description: 'Aggregate per bucket (with `every`; default mean)' })),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_QUERY_POINTS,
        description: `Most points answered (default ${DEFAULT_RAW_LIMIT}), oldest first`,
      }),
    ),
  },
  { additionalProperties: false },
)

const ValueSchema = Type.Union([Type.Number(), Type.String(), Type.Boolean()])
const ReadingsAnswer = Type.Object(
  {
    device: Type.String(),
    metric: Type.String(),
    unit: Type.String({ description: 'Canonical unit (docs/mqtt.md; "" for indices and levels)' }),
    every: Type.Optional(Type.String()),
    fn: Type.Optional(Type.String()),
    points: Type.Array(Type.Object({ ts: Type.String({ format: 'date-time' }), value: ValueSchema }, { additionalProperties: false })),
    truncated: Type.Optional(Type.Boolean({ description: 'More points exist in the range than `limit`: ask again from the last ts' })),
  },
  { additionalProperties: false },
)

const Station = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$',
  description: 'Station id, e.g. kim-long',
})
const LatestQuery = Type.Object(
  {
    kind: Type.Optional(Type.Enum([...DEVICE_KINDS], { description: 'Device kind' })),
    station: Type.Optional(Station),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200, description: 'Devices per page' })),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$', description: 'The `next` value of the previous page' }),
    ),
  },
  { additionalProperties: false },
)
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])
const LatestItem = Type.Object(
  {
    device: Type.String(),
    name: Nullable(Type.String()),
    kind: Nullable(Type.String()),
    station: Nullable(Type.String()),
    district: Nullable(Type.String()),
    ts: Type.String({ format: 'date-time', description: "Time of the device's newest reading" }),
    values: Type.Record(Type.String(), ValueSchema, { description: "Each metric's latest value" }),
  },
  { additionalProperties: false },
)
const LatestAnswer = Type.Object({ items: Type.Array(LatestItem), next: Nullable(Type.String()) }, { additionalProperties: false })

/** Epoch ms of a `from`/`to` value already checked against TIME_PATTERN. */
export function parseTime(value: string, field: string): number {
  const ms = /^-?\d+$/.test(value) ? Number(value) : Date.parse(value)
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) throw httpError(400, `querystring/${field} is not a valid time: ${value}`)
  return ms
}

/** Milliseconds of an `every` value already checked against EVERY_PATTERN. */
export function parseEvery(value: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(value)!
  return Number(m[1]) * UNIT_MS[m[2]!]!
}

const iso = (ms: number) => new Date(ms).toISOString()

export const readingsRoutes: RoutePlugin<ReadingsRouteDeps> = async (app, deps) => {
  app.get(
    '/devices/:id/readings',
    {
      config: { roles: READ },
      schema: {
        tags: ['readings'],
        summary: 'Readings of one metric of a device: raw, or aggregated per `every` with mean, min, max or last',
        params: DeviceIdParams,
        querystring: ReadingsQuery,
        response: { 200: ReadingsAnswer, ...AuthErrors, 404: ErrorSchema, 503: ErrorSchema },
      },
    },
    async (request) => {
      const { id } = request.params
      const q = request.query
      await visibleDevice(deps.registry, request.actor, id)
      const to = q.to !== undefined ? parseTime(q.to, 'to') : Date.now()
      const from = q.from !== undefined ? parseTime(q.from, 'from') : to - DAY
      if (from >= to) throw httpError(400, 'querystring/from must be before querystring/to')
      if (q.fn !== undefined && q.every === undefined) throw httpError(400, 'querystring/fn needs querystring/every (e.g. every=1h&fn=max)')
      const metric = q.metric
      const unit = unitOf(metric) ?? ''
      const limit = q.limit ?? DEFAULT_RAW_LIMIT
      try {
        if (q.every !== undefined) {
          const every = parseEvery(q.every)
          if (every < 1000) throw httpError(400, 'querystring/every must be at least 1s')
          const buckets = Math.ceil((to - from) / every)
          if (buckets > MAX_QUERY_POINTS)
            throw httpError(
              400,
              `querystring/every gives ${buckets} buckets over this range; use a larger every or a shorter range (at most ${MAX_QUERY_POINTS})`,
            )
          const fn = q.fn ?? 'mean'
          // One more than asked (stores answer up to MAX_QUERY_POINTS + 1): says whether more exist.
          const points = await deps.store.aggregate({ device: id, metric, from, to, every, fn, limit: limit + 1 })
          return {
            device: id,
            metric,
            unit,
            every: q.every,
            fn,
            points: points.slice(0, limit).map((p) => ({ ts: iso(p.ts), value: p.value })),
            ...(points.length > limit ? { truncated: true } : {}),
          }
        }
        const points = await deps.store.readings({ device: id, metric, from, to, limit: limit + 1 })
        return {
          device: id,
          metric,
          unit,
          points: points.slice(0, limit).map((p) => ({ ts: iso(p.ts), value: p.value })),
          ...(points.length > limit ? { truncated: true } : {}),
        }
      } catch (err) {
        return storeFailure(err)
      }
    },
  )

  app.get(
    '/readings/latest',
    {
      config: { roles: READ },
      schema: {
        tags: ['readings'],
        summary: 'Latest values of every device, filtered by kind and station, in pages ordered by device id',
        querystring: LatestQuery,
        response: { 200: LatestAnswer, ...AuthErrors, 503: ErrorSchema },
      },
    },
    async (request) => {
      const { kind, station, cursor } = request.query
      const limit = request.query.limit ?? 200
      const after = decodeCursor(cursor)
      let all
      try {
        all = await deps.store.latest({ kind, station })
      } catch (err) {
        return storeFailure(err)
      }
      // Filtered before paging, so that a scoped user's pages are full.
      const mine = scopeOf(request.actor)
        ? all.filter((i) => canSee(request.actor, { station: i.tags.station, district: i.tags.district }))
        : all
      const page = (after === undefined ? mine : mine.filter((i) => i.device > after)).slice(0, limit + 1)
      const names = await Promise.all(page.slice(0, limit).map(async (i) => (await deps.registry.getDevice(i.device))?.name ?? null))
      const items = page.slice(0, limit).map((i, n) => ({
        device: i.device,
        name: names[n] ?? null,
        kind: i.tags.kind ?? null,
        station: i.tags.station ?? null,
        district: i.tags.district ?? null,
        ts: iso(i.ts),
        values: i.values,
      }))
      return { items, next: page.length > limit ? encodeCursor(items[items.length - 1]!.device) : null }
    },
  )
}
