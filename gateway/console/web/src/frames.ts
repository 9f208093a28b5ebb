import type { ZoneResult } from './zone-counts.ts'

// Cameras' analysed frames as the SSE stream announces them (docs/api.md, "Server-Sent Events",
// `event: detection`): live.ts owns the one EventSource and hands each frame here; the camera grid
// and camera page listen for their camera. Whether the stream is up decides if they poll instead.

/** One camera's latest analysed frame, as `event: detection` carries it. */
export interface FrameEvent {
  camera: string
  station: string | null
  district: string | null
  ts: string
  congestion: number
  boxes: number
  zones: ZoneResult[]
}

const frameListeners = new Set<(f: FrameEvent) => void>()
const upListeners = new Set<(up: boolean) => void>()
let up = false

export function publishFrame(f: FrameEvent): void {
  for (const l of frameListeners) l(f)
}

export function setStreamUp(value: boolean): void {
  if (value === up) return
  up = value
  for (const l of upListeners) l(up)
}

export const streamUp = () => up

/** Calls `onFrame` for every frame event; returns the function that stops it. */
export function onFrame(listener: (f: FrameEvent) => void): () => void {
  frameListeners.add(listener)
  return () => frameListeners.delete(listener)
}

/** Calls `listener` whenever the stream comes up or goes down; returns the function that stops it. */
export function onStreamChange(listener: (up: boolean) => void): () => void {
  upListeners.add(listener)
  return () => upListeners.delete(listener)
}

/** A frame event checked for the fields the pages use; anything else is dropped. */
export function parseFrame(data: string): FrameEvent | null {
  try {
    const f = JSON.parse(data) as Partial<FrameEvent>
    if (typeof f.camera !== 'string' || typeof f.ts !== 'string' || !Array.isArray(f.zones)) return null
    return f as FrameEvent
  } catch {
    return null
  }
}
