import type { FloodZone } from './config.ts'
import { pointInPolygon } from './zones.ts'

export interface SegMap {
  width: number
  height: number
  classes: Uint8Array
}

/**
 * The zone rasterised on the segmenter's grid. The segmenter sees the whole frame stretched to its
 * input size, so a normalised polygon maps straight onto its pixels, whatever the frame size.
 */
export function zoneMask(zone: FloodZone, width: number, height: number): Uint8Array {
  const mask = new Uint8Array(width * height)
  for (let y = 0; y < height; y++) {
    const ny = (y + 0.5) / height
    for (let x = 0; x < width; x++) if (pointInPolygon((x + 0.5) / width, ny, zone.polygon)) mask[y * width + x] = 1
  }
  return mask
}

export function waterMask(seg: SegMap, waterClasses: readonly number[]): Uint8Array {
  const m = new Uint8Array(seg.classes.length)
  for (let i = 0; i < m.length; i++) m[i] = waterClasses.includes(seg.classes[i]!) ? 1 : 0
  return m
}

export interface WaterReading {
  /** Share of zone pixels labelled water or sea (what the model says, uncorrected). */
  raw: number
  /** Share of the zone labelled water now that was not water in the dry reference (see docs/vision.md). */
  ratio: number
  compensated: boolean
}

/**
 * water_ratio in a flood zone. With a dry reference of the same camera, pixels the model already
 * calls water on a dry day (a blue wall, a shiny roof, a canal that is always there) are taken out
 * of both the numerator and the zone, so only new water counts. This removes steady false
 * positives; it cannot add water the model does not see (muddy street water read as road or
 * sidewalk), so the figure stays a lower bound and a trend signal.
 */
export function waterRatio(seg: SegMap, zone: Uint8Array, water: readonly number[], dryWater: Uint8Array | null): WaterReading {
  let zonePx = 0
  let wet = 0
  let zoneFree = 0
  let wetNew = 0
  for (let i = 0; i < zone.length; i++) {
    if (!zone[i]) continue
    zonePx++
    const w = water.includes(seg.classes[i]!)
    if (w) wet++
    if (dryWater && dryWater[i]) continue
    zoneFree++
    if (w) wetNew++
  }
  const raw = zonePx ? wet / zonePx : 0
  if (!dryWater) return { raw: round(raw), ratio: round(raw), compensated: false }
  return { raw: round(raw), ratio: round(zoneFree ? wetNew / zoneFree : 0), compensated: true }
}

function round(v: number): number {
  return Math.round(v * 1e4) / 1e4
}
