import { useEffect, useRef, useState } from 'preact/hooks'
import { api } from './api.ts'

// Cameras in the console (docs/api.md, "Cameras"; docs/vision.md): detection records, the
// camera's vision configuration, and the live refresh. Detections are not on the SSE stream
// (docs/api.md, "Server-Sent Events" carries alerts and readings only), so they are polled.

export const VEHICLES = ['car', 'motorcycle', 'bus', 'truck', 'bicycle'] as const
export type Vehicle = (typeof VEHICLES)[number]
export type Counts = Record<Vehicle, number>

export interface ZoneResult {
  zone: string
  counts: Counts
  occupancy: number
  congestion: number
  water_ratio?: number
}

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

interface Page<T> {
  items: T[]
  next: string | null
}

/** Every active camera (GET /devices?kind=camera, all pages). */
export async function loadCameras(): Promise<Camera[]> {
  const out: Camera[] = []
  let cursor: string | null = null
  for (let pages = 0; pages < 20; pages++) {
    const q: string = `/devices?kind=camera&state=active&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
    const page: Page<Camera> = await api.get<Page<Camera>>(q)
    out.push(...page.items)
    cursor = page.next
    if (!cursor) break
  }
  return out
}

export const loadCamera = (id: string) => api.get<Camera>(`/devices/${encodeURIComponent(id)}`)
export const loadConfig = (id: string) => api.get<{ config: CameraConfig; updated_at: string | null }>(`/cameras/${encodeURIComponent(id)}/config`)
export const saveConfig = (id: string, config: CameraConfig) => api.put<{ config: CameraConfig; updated_at: string }>(`/cameras/${encodeURIComponent(id)}/config`, config)

/** The snapshot's address, changed with each analysed frame so the browser fetches the new one. */
export const snapshotUrl = (id: string, ts: string | undefined) => `/api/v1/cameras/${encodeURIComponent(id)}/snapshot${ts ? `?frame=${encodeURIComponent(ts)}` : ''}`

export const total = (c: Counts) => VEHICLES.reduce((s, v) => s + (c[v] ?? 0), 0)

const HOUR = 3_600_000
const POLL_MS = 4000

/** Detection records after `from` (ms), all pages up to a bound: an hour of frames at most. */
async function detectionsSince(id: string, from: number): Promise<Detection[]> {
  const out: Detection[] = []
  let cursor: string | null = null
  for (let pages = 0; pages < 10; pages++) {
    const q: string = `/cameras/${encodeURIComponent(id)}/detections?from=${from}&limit=500${cursor ? `&cursor=${cursor}` : ''}`
    const page: Page<Detection> = await api.get<Page<Detection>>(q)
    out.push(...page.items)
    cursor = page.next
    if (!cursor) break
  }
  return out
}

export interface CameraFeed {
  /** Records of the window, oldest first (only the newest when `keep` is 'latest'). */
  records: Detection[]
  latest: Detection | null
  loaded: boolean
  error: string | null
}

/**
 * A camera's detections, polled every few seconds from the last one seen, so a new frame shows
 * without a reload; `keep: 'hour'` keeps the last hour for the chart, 'latest' the newest only.
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
    const tick = async () => {
      try {
        const got = await detectionsSince(id, last.current)
        if (stopped) return
        if (got.length) {
          last.current = Date.parse(got[got.length - 1]!.ts) + 1
          setRecords((prev) => {
            if (keep === 'latest') return got.slice(-1)
            const cut = new Date(Date.now() - HOUR).toISOString()
            return [...prev, ...got].filter((r) => r.ts >= cut)
          })
        }
        setError(null)
        setLoaded(true)
      } catch (err) {
        if (!stopped) setError((err as Error).message)
      }
      if (!stopped) timer = setTimeout(tick, POLL_MS)
    }
    void tick()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }, [id, keep])
  return { records, latest: records[records.length - 1] ?? null, loaded, error }
}
