// The frame's two halves as zone polygons (normalised x, y; docs/vision.md "Zones"): what tests and
// benches give a camera when they need two zones that split every detection between them.

export const LEFT_HALF: Array<[number, number]> = [
  [0, 0],
  [0.5, 0],
  [0.5, 1],
  [0, 1],
]

export const RIGHT_HALF: Array<[number, number]> = [
  [0.5, 0],
  [1, 0],
  [1, 1],
  [0.5, 1],
]

/** Two counting zones splitting the frame: `inbound` the left half, `outbound` the right. */
export const INBOUND_OUTBOUND = [
  { id: 'inbound', kind: 'count' as const, polygon: LEFT_HALF },
  { id: 'outbound', kind: 'count' as const, polygon: RIGHT_HALF },
]

/** The frame's lower half: the street in the sample photos, where flood water would stand. */
export const LOWER_HALF: Array<[number, number]> = [
  [0, 0.5],
  [1, 0.5],
  [1, 1],
  [0, 1],
]

/** The whole frame. */
export const WHOLE_FRAME: Array<[number, number]> = [
  [0, 0],
  [1, 0],
  [1, 1],
  [0, 1],
]
