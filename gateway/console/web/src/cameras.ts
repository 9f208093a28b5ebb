import { useEffect, useRef, useState } from 'preact/hooks'
import { allPages, api } from './api.ts'
import { onFrame, onStreamChange, streamUp, type FrameEvent } from './frames.ts'
import { VEHICLES, type Counts, type ZoneResult } from './zone-counts.ts'

export { VEHICLES, type Counts, type Vehicle, type ZoneResult } from './zone-counts.ts'

// Cameras in the console (docs/api.md, "Cameras"; docs/vision.md): detection records, the
// camera's vision configuration, and the live refresh. New frames arrive on the SSE stream
// (docs/api.md, "Server-Sent Events", `event: detection`); while the stream is down the records
// are polled slowly instead.

export interface Detection {
  ts: string
  camera: string
  counts: Counts
  objects: Array<{ class: string; score: number; box: [number, number, number, number] }>
  water_ratio?: number
  zones?: ZoneResult[]
}

export type Point = [number, number]
export type Zone =
  | { id: string; kind: 'count'; polygon: Point[]; direction?: string; capacityPcu?: number }
  | { id: string; kind: 'flood'; polygon: Point[] }

export interface CameraConfig {
  zones?: Zone[]
  tiling?: { enabled?: boolean | 'auto'; tileSize?: number; overlap?: number; fullFrame?: boolean; maxTiles?: number }
  dryReference?: string
}

export interface Camera {
  id: string
  name?: string
  station?: string | null
  district?: string | null
}

/** Every active camera (GET /devices?kind=camera, all pages). */
export function loadCameras(): Promise<Camera[]> {
  return allPages<Camera>('/devices?kind=camera&state=active')
}

export const loadCamera = (id: string) => api.get<Camera>(`/devices/${encodeURIComponent(id)}`)
export const loadConfig = (id: string) =>
  api.get<{ config: CameraConfig; updated_at: string | null }>(`/cameras/${encodeURIComponent(id)}/config`)
export const saveConfig = (id: string, config: CameraConfig) =>
  api.put<{ config: CameraConfig; updated_at: string }>(`/cameras/${encodeURIComponent(id)}/config`, config)

/** The snapshot's address, changed with each analysed frame so the browser fetches the new one. */
export const snapshotUrl = (id: string, ts: string | undefined) =>
  `/api/v1/cameras/${encodeURIComponent(id)}/snapshot${ts ? `?frame=${encodeURIComponent(ts)}` : ''}`

export const total = (c: Counts) => VEHICLES.reduce((s, v) => s + (c[v] ?? 0), 0)

const HOUR = 3_600_000
/** Only while the SSE stream is down: the stream brings every frame within a second otherwise. */
const FALLBACK_POLL_MS = 15_000

/** A frame event as a detection record: per-zone counts; the boxes are drawn on the snapshot. */
function recordOf(f: FrameEvent): Detection {
  const counts = Object.fromEntries(VEHICLES.map((v) => [v, 0])) as Counts
  for (const z of f.zones) for (const v of VEHICLES) counts[v] += z.counts[v] ?? 0
  return { ts: f.ts, camera: f.camera, counts, objects: [], zones: f.zones }
}

/** Detection records after `from` (ms), all pages up to a bound: an hour of frames at most. */
function detectionsSince(id: string, from: number): Promise<Detection[]> {
  return allPages<Detection>(`/cameras/${encodeURIComponent(id)}/detections?from=${from}`, 10)
}

export interface CameraFeed {
  /** Records of the window, oldest first (only the newest when `keep` is 'latest'). */
  records: Detection[]
  latest: Detection | null
  loaded: boolean
  error: string | null
}

/**
 * A camera's detections: loaded once from the API, then kept current by the SSE stream's frame
 * events, and polled from the last one seen only while the stream is down (or just came back, to
 * fetch what was missed); `keep: 'hour'` keeps the last hour for the chart, 'latest' the newest.
 */
export function useCameraFeed(id: string, keep: 'hour' | 'latest'): CameraFeed {
  const [records, setRecords] = useState<Detection[]>([])
  const [loaded, setLoaded] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const last = useRef(0)
  useEffect(() => {
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    last.current = Date.now() - (keep === 'hour' ? HOUR : 10 * 60_000)
    setRecords([])
    setLoaded(false)
    const add = (got: Detection[]) => {
      const fresh = got.filter((r) => Date.parse(r.ts) >= last.current)
      if (!fresh.length) return
      last.current = Date.parse(fresh[fresh.length - 1]!.ts) + 1
      setRecords((prev) => {
        if (keep === 'latest') return fresh.slice(-1)
        const cut = new Date(Date.now() - HOUR).toISOString()
        return [...prev, ...fresh].filter((r) => r.ts >= cut)
      })
    }
    const tick = async () => {
      clearTimeout(timer)
      try {
        const got = await detectionsSince(id, last.current)
        if (stopped) return
        add(got)
        setError(null)
        setLoaded(true)
      } catch (err) {
        if (!stopped) setError((err as Error).message)
      }
      if (!stopped && !streamUp()) timer = setTimeout(tick, FALLBACK_POLL_MS)
    }
    const offFrame = onFrame((f) => {
      if (f.camera === id) add([recordOf(f)])
    })
    const offStream = onStreamChange((up) => {
      clearTimeout(timer)
      if (up) void tick()
      else if (!stopped) timer = setTimeout(tick, FALLBACK_POLL_MS)
    })
    void tick()
    return () => {
      stopped = true
      clearTimeout(timer)
      offFrame()
      offStream()
    }
  }, [id, keep])
  return { records, latest: records[records.length - 1] ?? null, loaded, error }
}
