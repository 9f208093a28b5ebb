import Type from 'typebox'
import type { Alerting } from '../../alerts/engine.ts'
import type { DetectionEvent, GatewayBus, Reading } from '../../bus/events.ts'
import { canSee } from '../scope.ts'
import type { RoutePlugin } from '../types.ts'

export interface EventRouteDeps {
  alerting: Alerting
  bus: GatewayBus
}

// Server-Sent Events (WHATWG HTML, "server-sent events"): `event: alert` for every alert change,
// `event: reading` for the latest reading per device, `event: detection` for each camera's latest
// analysed frame (docs/api.md, "Server-Sent Events"). Readings and detections are coalesced per
// device and flushed once a second: a dashboard wants the latest value, and 20,000 readings/s
// must not be copied to every open browser.
const FLUSH_MS = 1000
const HEARTBEAT_MS = 15_000
/** A client that cannot keep up is dropped rather than buffered without bound. */
const MAX_BUFFERED = 4 * 1024 * 1024

export const eventRoutes: RoutePlugin<EventRouteDeps> = async (app, deps) => {
  // Open streams never end by themselves: end them when the server shuts down, or close() would
  // wait for them forever.
  const open = new Set<import('node:http').ServerResponse>()
  app.addHook('preClose', async () => {
    for (const raw of open) raw.end()
    open.clear()
  })
  app.get(
    '/events',
    {
      config: { roles: ['viewer', 'officer', 'technician'] },
      schema: {
        tags: ['events'],
        summary: 'Server-Sent Events: alert changes (event: alert), latest readings (event: reading) and camera frames (event: detection)',
        querystring: Type.Object(
          {
            readings: Type.Optional(Type.Boolean({ default: true, description: 'Include latest readings' })),
            detections: Type.Optional(Type.Boolean({ default: true, description: "Include each camera's latest analysed frame" })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.String({ description: 'text/event-stream' }) },
      },
    },
    async (request, reply) => {
      const raw = reply.raw
      let n = 0
      const latest = new Map<string, Reading>()
      const frames = new Map<string, FrameSummary>()
      const queued: Array<[string, unknown]> = []
      let streaming = false
      const send = (event: string, data: unknown) => {
        if (!streaming) {
          queued.push([event, data])
          return
        }
        if (raw.writableLength > MAX_BUFFERED) {
          request.log.warn('SSE client too slow, closing')
          raw.destroy()
          return
        }
        raw.write(`id: ${++n}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
      }
      // Subscribe before taking over the socket: a missing dependency still answers a plain 500.
      const actor = request.actor
      const offAlert = deps.alerting.onChange((c) => {
        // A scoped user's stream carries only their districts' and stations' alerts and readings.
        if (!canSee(actor, c.alert)) return
        const { history: _h, ...alert } = c.alert
        send('alert', { ...alert, change: c.change })
      })
      reply.hijack()
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      })
      raw.write(`retry: 3000\n: connected\n\n`)
      streaming = true
      open.add(raw)
      for (const [e, d] of queued.splice(0)) send(e, d)
      const onReading = (r: Reading) => {
        if (!canSee(actor, r)) return
        latest.set(r.device, r)
      }
      const onDetection = (d: DetectionEvent) => {
        if (!canSee(actor, { station: d.station ?? null, district: d.district ?? null })) return
        addZone(frames, d)
      }
      if (request.query.readings !== false) deps.bus.on('reading', onReading)
      if (request.query.detections !== false) deps.bus.on('detection', onDetection)
      const flush = setInterval(() => {
        for (const r of latest.values())
          send('reading', {
            device: r.device,
            kind: r.kind,
            station: r.station,
            ts: new Date(r.ts).toISOString(),
            values: r.values,
            late: r.late,
          })
        latest.clear()
        for (const f of frames.values()) send('detection', { ...f, ts: new Date(f.ts).toISOString() })
        frames.clear()
      }, FLUSH_MS)
      const beat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS)
      const done = () => {
        open.delete(raw)
        offAlert()
        deps.bus.off('reading', onReading)
        deps.bus.off('detection', onDetection)
        clearInterval(flush)
        clearInterval(beat)
      }
      raw.on('close', done)
      raw.on('error', done)
    },
  )
}

/** One camera's latest analysed frame as `event: detection` carries it (docs/api.md). */
interface FrameSummary {
  camera: string
  station: string | null
  district: string | null
  ts: number
  /** The highest congestion level of the frame's count zones, 0-3. */
  congestion: number
  /** Objects the detector boxed in the whole frame. */
  boxes: number
  zones: Array<{ zone: string; counts: Record<string, number>; congestion: number; occupancy: number; water_ratio?: number }>
}

/**
 * The pipeline announces one event per zone of a frame; they are gathered into the frame's
 * summary, and a newer frame of the same camera replaces an older one not yet sent.
 */
function addZone(frames: Map<string, FrameSummary>, d: DetectionEvent): void {
  let f = frames.get(d.camera)
  if (f && d.ts < f.ts) return
  if (!f || d.ts > f.ts) {
    f = {
      camera: d.camera,
      station: d.station ?? null,
      district: d.district ?? null,
      ts: d.ts,
      congestion: 0,
      boxes: d.boxes ?? 0,
      zones: [],
    }
    frames.set(d.camera, f)
  }
  f.zones = [
    ...f.zones.filter((z) => z.zone !== d.zone),
    {
      zone: d.zone,
      counts: d.counts,
      congestion: d.congestion,
      occupancy: d.occupancy,
      ...(d.water_ratio !== undefined ? { water_ratio: d.water_ratio } : {}),
    },
  ]
  f.congestion = Math.max(f.congestion, d.congestion)
  if (d.boxes !== undefined) f.boxes = d.boxes
}
