// What a camera's analysed frame counts, per vehicle class and per zone (docs/vision.md): shared by
// the detection records (cameras.ts) and the live frames of the SSE stream (frames.ts).

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
