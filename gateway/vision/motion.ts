import type { RawFrame, Region } from './yolox.ts'

// Motion: a coarse grey grid of each analysed frame, compared cell by cell with the last analysed
// one. A frame with no moved cell is not analysed (the gate); on a tiled frame the moved cells'
// boxes say where to run the detector (tiles.ts motionRegions), as Frigate's motion regions do.

/** Cells along the grid's longer side: 12 px cells at 1920x1080, a small car covers 2-4 of them. */
export const GRID_CELLS = 160

export interface MotionGrid {
  w: number
  h: number
  /** Side of one cell in the pixels the grid was made from. */
  cell: number
  /** Mean grey level of each cell, row by row. */
  data: Uint8Array
}

function gridShape(width: number, height: number): { w: number; h: number; cell: number } {
  const cell = Math.max(1, Math.ceil(Math.max(width, height) / GRID_CELLS))
  return { w: Math.ceil(width / cell), h: Math.ceil(height / cell), cell }
}

/**
 * Grid of the letterboxed whole frame the detector already built (planar B, G, R floats in a
 * `size` x `size` canvas, the image top-left at `nw` x `nh`): a one-pass frame needs no other decode.
 */
export function gridFromPlanar(buf: Float32Array, size: number, nw: number, nh: number): MotionGrid {
  const plane = size * size
  return grid(nw, nh, (x, y) => {
    const p = y * size + x
    return 0.114 * buf[p]! + 0.587 * buf[plane + p]! + 0.299 * buf[2 * plane + p]!
  })
}

/** Grid of a frame decoded to RGB (a tiled frame's pixels). */
export function gridFromRgb(px: RawFrame): MotionGrid {
  // The same sampling as grid() below, written out: this runs on every tiled frame's millions of
  // pixels, where a call per pixel cost twice the time (3.6 ms at 1920x1080).
  const { width, height, data: d } = px
  const { w, h, cell } = gridShape(width, height)
  const step = cell > 2 ? 2 : 1
  const sums = new Float64Array(w)
  const counts = new Uint32Array(w)
  const out = new Uint8Array(w * h)
  for (let gy = 0; gy < h; gy++) {
    sums.fill(0)
    counts.fill(0)
    const y1 = Math.min(height, (gy + 1) * cell)
    for (let y = gy * cell; y < y1; y += step) {
      const row = y * width * 3
      for (let gx = 0; gx < w; gx++) {
        const x1 = Math.min(width, (gx + 1) * cell)
        let s = 0
        let n = 0
        for (let x = gx * cell; x < x1; x += step, n++) {
          const p = row + x * 3
          s += 0.299 * d[p]! + 0.587 * d[p + 1]! + 0.114 * d[p + 2]!
        }
        sums[gx]! += s
        counts[gx]! += n
      }
    }
    for (let gx = 0; gx < w; gx++) out[gy * w + gx] = counts[gx] ? Math.round(sums[gx]! / counts[gx]!) : 0
  }
  return { w, h, cell, data: out }
}

function grid(width: number, height: number, grey: (x: number, y: number) => number): MotionGrid {
  const { w, h, cell } = gridShape(width, height)
  const data = new Uint8Array(w * h)
  // Every other pixel each way: averaging a quarter of a cell's pixels already hides sensor
  // noise, at a quarter of the cost.
  const step = cell > 2 ? 2 : 1
  for (let gy = 0; gy < h; gy++) {
    const y1 = Math.min(height, (gy + 1) * cell)
    for (let gx = 0; gx < w; gx++) {
      const x1 = Math.min(width, (gx + 1) * cell)
      let s = 0
      let n = 0
      for (let y = gy * cell; y < y1; y += step) for (let x = gx * cell; x < x1; x += step, n++) s += grey(x, y)
      data[gy * w + gx] = n ? Math.round(s / n) : 0
    }
  }
  return { w, h, cell, data }
}

/**
 * Cells that moved: their grey level changed by more than `threshold` (0..1 of the grey range)
 * once the frame's median change is taken off, so a cloud or the camera's exposure shifting the
 * whole picture does not count as motion everywhere. Null when the grids are not comparable
 * (another frame size): treat as all moved.
 */
export function movedCells(cur: MotionGrid, prev: MotionGrid, threshold: number): Uint8Array | null {
  if (cur.w !== prev.w || cur.h !== prev.h || cur.cell !== prev.cell) return null
  const n = cur.data.length
  const hist = new Uint32Array(511)
  for (let i = 0; i < n; i++) hist[cur.data[i]! - prev.data[i]! + 255]!++
  let median = 0
  for (let seen = 0; median < 511; median++) if ((seen += hist[median]!) * 2 >= n) break
  const shift = median - 255
  const limit = threshold * 255
  const moved = new Uint8Array(n)
  for (let i = 0; i < n; i++) if (Math.abs(cur.data[i]! - prev.data[i]! - shift) > limit) moved[i] = 1
  return moved
}

/** Whether anything moved between two grids (the gate). */
export function anyMotion(cur: MotionGrid, prev: MotionGrid, threshold: number): boolean {
  const moved = movedCells(cur, prev, threshold)
  return !moved || moved.includes(1)
}

/**
 * Boxes (in the grid's source pixels) around groups of moved cells: cells one apart are joined
 * (8-neighbours after a one-cell dilation), so the parts of one vehicle make one box.
 */
export function motionBoxes(g: MotionGrid, moved: Uint8Array): Region[] {
  const { w, h, cell } = g
  const grown = new Uint8Array(moved.length)
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      if (!moved[y * w + x]) continue
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy
          const xx = x + dx
          if (yy >= 0 && yy < h && xx >= 0 && xx < w) grown[yy * w + xx] = 1
        }
    }
  const boxes: Region[] = []
  const stack: number[] = []
  for (let start = 0; start < grown.length; start++) {
    if (grown[start] !== 1) continue
    let x1 = w
    let y1 = h
    let x2 = -1
    let y2 = -1
    grown[start] = 2
    stack.push(start)
    while (stack.length) {
      const i = stack.pop()!
      const x = i % w
      const y = (i - x) / w
      // The box is that of the moved cells themselves, not of the dilation around them.
      if (moved[i]) {
        x1 = Math.min(x1, x)
        y1 = Math.min(y1, y)
        x2 = Math.max(x2, x)
        y2 = Math.max(y2, y)
      }
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy
          const xx = x + dx
          if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue
          const j = yy * w + xx
          if (grown[j] === 1) {
            grown[j] = 2
            stack.push(j)
          }
        }
    }
    if (x2 >= 0) boxes.push({ x: x1 * cell, y: y1 * cell, w: (x2 - x1 + 1) * cell, h: (y2 - y1 + 1) * cell })
  }
  return boxes
}
