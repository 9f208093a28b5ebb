import { AUTO_TILING_FACTOR, TILING_DEFAULTS, type TilingConfig, type Zone } from './config.ts'
import { boundsOf, toPixels } from './zones.ts'
import type { Region } from './yolox.ts'

/**
 * Whether a frame is tiled: as the camera's configuration says, or, when it says nothing or
 * 'auto', when the frame's longer side is more than AUTO_TILING_FACTOR times the model's input
 * side (`modelInput`): one pass then shrinks the frame more than twice, and a car 20 px long in
 * a 1360x765 view becomes 6 px, under what the model resolves.
 */
export function tilingApplies(frame: { width: number; height: number }, tiling: TilingConfig | undefined, modelInput: number): boolean {
  const enabled = tiling?.enabled ?? TILING_DEFAULTS.enabled
  if (enabled !== 'auto') return enabled
  return Math.max(frame.width, frame.height) > AUTO_TILING_FACTOR * modelInput
}

/**
 * Regions for one frame. Without tiling: one whole-frame pass. With tiling: square tiles of about
 * `tileSize` source pixels with `overlap` over the union of the counting zones' bounds (the whole
 * frame when there are none), plus the whole frame for vehicles larger than a tile. A vehicle a
 * few dozen pixels tall in a 1080p frame shrinks below 10 pixels in one 416-pixel pass, under
 * what the model's stride-8 head resolves; in a 416-pixel tile it keeps its size.
 */
export function planRegions(
  frame: { width: number; height: number },
  zones: readonly Zone[],
  tilingIn: TilingConfig | undefined,
  modelInput = TILING_DEFAULTS.tileSize,
): Array<Region | null> {
  if (!tilingApplies(frame, tilingIn, modelInput)) return [null]
  const tiling = { ...TILING_DEFAULTS, ...tilingIn }
  const counting = zones.filter((z) => z.kind === 'count')
  let x1 = 0
  let y1 = 0
  let x2 = frame.width
  let y2 = frame.height
  if (counting.length) {
    x1 = Infinity
    y1 = Infinity
    x2 = -Infinity
    y2 = -Infinity
    for (const z of counting) {
      const b = boundsOf(toPixels(z.polygon, frame.width, frame.height))
      x1 = Math.min(x1, b.x1)
      y1 = Math.min(y1, b.y1)
      x2 = Math.max(x2, b.x2)
      y2 = Math.max(y2, b.y2)
    }
  }
  x1 = Math.max(0, Math.floor(x1))
  y1 = Math.max(0, Math.floor(y1))
  x2 = Math.min(frame.width, Math.ceil(x2))
  y2 = Math.min(frame.height, Math.ceil(y2))
  const regions: Array<Region | null> = tiling.fullFrame ? [null] : []
  const budget = tiling.maxTiles - (tiling.fullFrame ? 1 : 0)
  let size = Math.min(tiling.tileSize, x2 - x1, y2 - y1)
  for (;;) {
    const xs = starts(x1, x2, size, tiling.overlap)
    const ys = starts(y1, y2, size, tiling.overlap)
    if (xs.length * ys.length <= Math.max(1, budget) || size >= Math.max(x2 - x1, y2 - y1)) {
      for (const y of ys) for (const x of xs) regions.push({ x, y, w: Math.min(size, x2 - x), h: Math.min(size, y2 - y) })
      return regions
    }
    size = Math.ceil(size * 1.25)
  }
}

/** Evenly spaced tile starts from a to b (exclusive end) with at least the given overlap. */
function starts(a: number, b: number, size: number, overlap: number): number[] {
  const span = b - a
  if (span <= size) return [a]
  const step = size * (1 - overlap)
  const n = Math.ceil((span - size) / step) + 1
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(Math.round(a + (i * (span - size)) / (n - 1)))
  return out
}

/**
 * The passes of a tiled `plan` that cover where the frame moved (`moving`, boxes in source
 * pixels), in the manner of Frigate's motion regions, at the model's resolution: the plan's own
 * tiles, so that a moving vehicle is seen in the very crops the whole plan would show it in, with
 * the same scores (a crop centred on it instead, with other surroundings, scored the same
 * vehicles 0.1-0.25 lower on the street sequence of test/vision/street.test.ts). A box gets every
 * tile that holds it whole (the tiles overlap, so one to four; the one most central alone missed a
 * vehicle in twenty there, the whole plan keeping the best of its views), or every tile it
 * touches when none does; a box larger than a tile (a bus, a lane of traffic) also gets the whole-frame
 * pass, where vehicles larger than a tile are found. Motion outside the counting zones' tiles is
 * ignored. The whole plan when that would be as many passes; [] when nothing moved inside the zones.
 */
export function motionRegions(plan: Array<Region | null>, moving: readonly Region[]): Array<Region | null> {
  const tiles = plan.filter((r): r is Region => r !== null)
  if (!tiles.length) return plan
  const side = Math.max(...tiles.map((t) => Math.max(t.w, t.h)))
  const picked = new Set<Region>()
  let whole = false
  for (const b of moving) {
    const under = tiles.filter((t) => overlap(t, b))
    const holding = under.filter((t) => holds(t, [b.x, b.y, b.x + b.w, b.y + b.h]))
    for (const t of holding.length ? holding : under) picked.add(t)
    if (under.length && (b.w > side || b.h > side)) whole = plan.includes(null)
  }
  // In the plan's order, so that the passes and their merge are those of the whole plan.
  const regions = plan.filter((r) => (r === null ? whole : picked.has(r)))
  return regions.length >= plan.length ? plan : regions
}

function overlap(a: Region, b: Region): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
}

/** Whether region `t` holds the box [x1, y1, x2, y2] whole. */
export function holds(t: Region, [x1, y1, x2, y2]: readonly [number, number, number, number]): boolean {
  return x1 >= t.x && y1 >= t.y && x2 <= t.x + t.w && y2 <= t.y + t.h
}
