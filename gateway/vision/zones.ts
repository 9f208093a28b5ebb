import type { CountZone, Zone } from './config.ts'
import type { Detection } from './nms.ts'

export const VEHICLE_CLASSES = ['car', 'motorcycle', 'bus', 'truck', 'bicycle'] as const
export type VehicleClass = (typeof VEHICLE_CLASSES)[number]
export type Counts = Record<VehicleClass, number>

/**
 * Passenger-car units per class, after the conversion factors of TCVN 4054:2005 (plain terrain):
 * bicycle 0.2, motorcycle 0.3, car 1, bus and heavy truck 2.5. Motorcycles dominate Vietnamese
 * traffic, so a raw vehicle count would overstate congestion.
 */
export const PCU: Counts = { car: 1, motorcycle: 0.3, bus: 2.5, truck: 2.5, bicycle: 0.2 }

export type Pt = readonly [number, number]

export function emptyCounts(): Counts {
  return { car: 0, motorcycle: 0, bus: 0, truck: 0, bicycle: 0 }
}

export function isVehicle(cls: string): cls is VehicleClass {
  return (VEHICLE_CLASSES as readonly string[]).includes(cls)
}

/** Ray casting; polygon and point in the same coordinates. */
export function pointInPolygon(x: number, y: number, poly: readonly Pt[]): boolean {
  let inside = false
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!
    const [xj, yj] = poly[j]!
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside
  }
  return inside
}

/** Zone polygon (normalised 0..1) in frame pixels. */
export function toPixels(poly: readonly Pt[], w: number, h: number): Pt[] {
  return poly.map(([x, y]) => [x * w, y * h] as const)
}

export function boundsOf(poly: readonly Pt[]): { x1: number; y1: number; x2: number; y2: number } {
  let x1 = Infinity
  let y1 = Infinity
  let x2 = -Infinity
  let y2 = -Infinity
  for (const [x, y] of poly) {
    x1 = Math.min(x1, x)
    y1 = Math.min(y1, y)
    x2 = Math.max(x2, x)
    y2 = Math.max(y2, y)
  }
  return { x1, y1, x2, y2 }
}

/** The frame as one counting zone, for a camera without configured zones. */
export const WHOLE_FRAME: CountZone = {
  id: 'all',
  kind: 'count',
  polygon: [
    [0, 0],
    [1, 0],
    [1, 1],
    [0, 1],
  ],
  capacityPcu: 20,
}

export interface ZoneStats {
  zone: string
  counts: Counts
  /** Share of the zone's area under vehicle boxes (0..1). */
  occupancy: number
  pcu: number
  congestion: 0 | 1 | 2 | 3
}

const GRID = 48

// Sample points of the occupancy grid that fall inside a zone, per zone and frame size: the
// polygon test runs once per camera resolution, not once per frame.
const cellCache = new WeakMap<CountZone, Map<string, Float64Array>>()
function zoneCells(zone: CountZone, poly: readonly Pt[], w: number, h: number): Float64Array {
  let bySize = cellCache.get(zone)
  if (!bySize) cellCache.set(zone, (bySize = new Map<string, Float64Array>()))
  const key = `${w}x${h}`
  const hit = bySize.get(key)
  if (hit) return hit
  const b = boundsOf(poly)
  const pts: number[] = []
  for (let iy = 0; iy < GRID; iy++) {
    const y = b.y1 + ((iy + 0.5) * (b.y2 - b.y1)) / GRID
    for (let ix = 0; ix < GRID; ix++) {
      const x = b.x1 + ((ix + 0.5) * (b.x2 - b.x1)) / GRID
      if (pointInPolygon(x, y, poly)) pts.push(x, y)
    }
  }
  const cells = Float64Array.from(pts)
  if (bySize.size > 8) bySize.clear()
  bySize.set(key, cells)
  return cells
}
export const DEFAULT_CAPACITY_PCU = 20

/**
 * Counts vehicles whose ground point (bottom centre of the box) lies in the zone, so a tall bus
 * in the next lane is not counted twice; occupancy samples a 48x48 grid over the zone's bounds
 * and measures the share of in-zone cells covered by any vehicle box.
 */
export function zoneStats(
  zone: CountZone,
  objects: readonly Detection[],
  frame: { width: number; height: number },
  countThreshold: number,
  occThresholds: readonly [number, number, number],
  pcuThresholds: readonly [number, number, number],
): ZoneStats {
  const poly = toPixels(zone.polygon, frame.width, frame.height)
  const counts = emptyCounts()
  const vehicles = objects.filter((o) => isVehicle(o.class) && o.score >= countThreshold)
  for (const o of vehicles) {
    const gx = (o.box[0] + o.box[2]) / 2
    const gy = o.box[3] - 1e-6
    if (pointInPolygon(gx, gy, poly)) counts[o.class as VehicleClass]++
  }
  const inZone = zoneCells(zone, poly, frame.width, frame.height)
  const cells = inZone.length / 2
  let covered = 0
  for (let c = 0; c < inZone.length; c += 2) {
    const x = inZone[c]!
    const y = inZone[c + 1]!
    for (const o of vehicles) {
      if (x >= o.box[0] && x <= o.box[2] && y >= o.box[1] && y <= o.box[3]) {
        covered++
        break
      }
    }
  }
  const occupancy = cells ? covered / cells : 0
  let pcu = 0
  for (const c of Object.keys(counts) as VehicleClass[]) pcu += counts[c] * PCU[c]
  const level = (v: number, t: readonly [number, number, number]) => (v >= t[2] ? 3 : v >= t[1] ? 2 : v >= t[0] ? 1 : 0)
  const congestion = Math.max(level(occupancy, occThresholds), level(pcu / (zone.capacityPcu ?? DEFAULT_CAPACITY_PCU), pcuThresholds)) as
    0 | 1 | 2 | 3
  return { zone: zone.id, counts, occupancy: Math.round(occupancy * 1e4) / 1e4, pcu: Math.round(pcu * 100) / 100, congestion }
}

export function countZones(zones: readonly Zone[]): CountZone[] {
  const c = zones.filter((z): z is CountZone => z.kind === 'count')
  return c.length || zones.some((z) => z.kind === 'flood') ? c : [WHOLE_FRAME]
}
