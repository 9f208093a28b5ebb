import type { ServerResponse } from 'node:http'
import type { FastifyReply } from 'fastify'
import Type, { type TSchema } from 'typebox'
import type { Alerting } from '../../alerts/engine.ts'
import { AlertKindSchema } from '../../alerts/schema.ts'
import { alertsCsv } from '../../exports/alerts.ts'
import type { CsvExport } from '../../exports/csv.ts'
import { pointsCsv } from '../../exports/points.ts'
import type { Metrics } from '../../metrics/registry.ts'
import { DEVICE_KINDS } from '../../registry/types.ts'
import { type TimeSeriesStore } from '../../store/types.ts'
import { AuthErrors, DeviceId, ErrorSchema } from '../schemas.ts'
import { scopeOf } from '../scope.ts'
import type { RoutePlugin } from '../types.ts'
import { parseTime } from './readings.ts'
import { httpError, storeFailure } from '../errors.ts'

// CSV exports (docs/api.md "Exports"): streamed from the stores chunk by chunk, so the
// response is produced as fast as the client reads it and memory stays flat whatever the range.

export interface ExportRouteDeps {
  store: TimeSeriesStore
  alerting: Alerting
  metrics: Metrics
}

const READ = ['viewer', 'officer', 'technician'] as const
const DAY = 86_400_000
const TIME_PATTERN = '^(-?\\d{1,15}|\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:?\\d{2}))?)$'
const Time = (what: string) =>
  Type.String({ pattern: TIME_PATTERN, maxLength: 40, description: `${what}: ISO 8601 with a zone, a date (UTC), or epoch ms` })
const Place = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description: 'Station id' })
const Name = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' })
const Period = {
  from: Type.Optional(Time('Start, inclusive (default: 24 h before `to`)')),
  to: Type.Optional(Time('End, exclusive (default: now)')),
  station: Type.Optional(Place),
}
const CsvAnswer = {
  200: Type.String({ description: 'text/csv; charset=utf-8; header=present (RFC 4180)' }),
  ...AuthErrors,
  503: ErrorSchema,
}

function period(q: { from?: string | undefined; to?: string | undefined }): { from: number; to: number } {
  const to = q.to !== undefined ? parseTime(q.to, 'to') : Date.now()
  const from = q.from !== undefined ? parseTime(q.from, 'from') : to - DAY
  if (from >= to) throw httpError(400, 'querystring/from must be before querystring/to')
  return { from, to }
}

/** Resolves true once `chunk` is written to the socket, false if the response closed first. */
function written(res: ServerResponse, chunk: string | Uint8Array): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false)
  return new Promise((resolve) => {
    const gone = () => resolve(false)
    res.once('close', gone)
    res.write(chunk, (err) => {
      res.off('close', gone)
      resolve(!err)
    })
  })
}

const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:.]/g, '').replace(/000Z$/, 'Z')

export const exportRoutes: RoutePlugin<ExportRouteDeps> = async (app, deps) => {
  const exports = deps.metrics.counter('exports_total', 'CSV exports by what and outcome (complete, aborted, failed)', ['what', 'outcome'])
  const exported = deps.metrics.counter('export_rows_total', 'Rows written by CSV exports, by what', ['what'])

  /**
   * Writes the export out, each chunk once the one before it has left the process (the chunks'
   * bytes are lent: CsvExport.chunks), so memory holds one chunk in the response whatever the
   * range. The reply is hijacked for that: a Node stream handed to Fastify says when a chunk was
   * taken, not when it was written. The first chunk is read before any header, so a store that
   * fails at once answers 503 rather than a cut 200. Counts the rows and how the export ended, and
   * resolves once the response is closed.
   */
  async function send(reply: FastifyReply, what: string, range: { from: number; to: number }, csv: CsvExport): Promise<void> {
    const chunks = csv.chunks
    let next: IteratorResult<string | Uint8Array>
    try {
      next = await chunks.next()
    } catch (err) {
      exports.inc({ what, outcome: 'failed' })
      storeFailure(err)
    }
    reply.hijack()
    const res = reply.raw
    const closed = new Promise<void>((resolve) => res.once('close', resolve))
    let failed = false
    try {
      reply
        .type('text/csv; charset=utf-8; header=present')
        .header('content-disposition', `attachment; filename="${what}_${stamp(range.from)}_${stamp(range.to)}.csv"`)
        .header('cache-control', 'no-store')
      // What hooks set on the reply (the raw response already holds helmet's).
      for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) res.setHeader(name, value)
      res.writeHead(200)
      // HEAD (Fastify answers it with the GET handler): the headers say it all, no scan needed.
      if (reply.request.method === 'HEAD') res.end()
      else {
        while (!next.done && (await written(res, next.value))) next = await chunks.next()
        if (next.done) res.end()
      }
    } catch (err) {
      failed = true
      reply.log.error({ err, what }, 'CSV export failed after it started; the response was cut')
    } finally {
      // Whatever the scan did not finish (a client that went away, a failure, a HEAD) stops here;
      // a finished one is not affected. An unfinished response is cut.
      await chunks.return(undefined).catch(() => {})
      if (!res.writableEnded) res.destroy()
    }
    await closed
    exported.inc({ what }, csv.rows())
    exports.inc({ what, outcome: failed ? 'failed' : res.writableFinished ? 'complete' : 'aborted' })
  }

  async function scanOr503(make: () => Promise<CsvExport>, what: string): Promise<CsvExport> {
    try {
      return await make()
    } catch (err) {
      exports.inc({ what, outcome: 'failed' })
      storeFailure(err)
    }
  }

  const places = (actor: Parameters<typeof scopeOf>[0]) => {
    const s = scopeOf(actor)
    return s ? { stations: s.stations, districts: s.districts } : undefined
  }

  /**
   * A points export: the period and station of every export, then the measurement's own filters,
   * each a tag of its points (docs/data-model.md), passed to the store as they were asked.
   */
  function pointsExport(what: 'readings' | 'detections', summary: string, filters: Record<string, TSchema>): void {
    app.get(
      `/exports/${what}.csv`,
      {
        config: { roles: READ },
        schema: {
          tags: ['exports'],
          summary,
          querystring: Type.Object({ ...Period, ...filters }, { additionalProperties: false }),
          response: CsvAnswer,
        },
      },
      async (request, reply) => {
        const q = request.query as Record<string, string | undefined>
        const range = period(q)
        const where = Object.fromEntries(['station', ...Object.keys(filters)].map((tag) => [tag, q[tag]]))
        const csv = await scanOr503(
          () => pointsCsv(deps.store, { measurement: what, ...range, where, places: places(request.actor) }),
          what,
        )
        await send(reply, what, range, csv)
      },
    )
  }

  pointsExport('readings', 'Readings of a period as CSV (streamed; one row per device and instant, one column per metric)', {
    device: Type.Optional(DeviceId),
    kind: Type.Optional(Type.Enum([...DEVICE_KINDS], { description: 'Device kind' })),
  })
  pointsExport('detections', 'Vision detections of a period as CSV (streamed; one row per camera zone and analysed frame)', {
    camera: Type.Optional(Name),
    zone: Type.Optional(Name),
  })

  app.get(
    '/exports/alerts.csv',
    {
      config: { roles: READ },
      schema: {
        tags: ['exports'],
        summary: 'Alerts opened in a period as CSV (streamed; one row per alert, as it is now)',
        querystring: Type.Object(
          { ...Period, device: Type.Optional(DeviceId), kind: Type.Optional(AlertKindSchema) },
          { additionalProperties: false },
        ),
        response: CsvAnswer,
      },
    },
    async (request, reply) => {
      const q = request.query
      const range = period(q)
      const csv = alertsCsv(deps.alerting.store, {
        ...range,
        kind: q.kind,
        station: q.station,
        device: q.device,
        scope: scopeOf(request.actor),
      })
      await send(reply, 'alerts', range, csv)
    },
  )
}
