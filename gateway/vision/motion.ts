// Motion gating: a 64x48 grey thumbnail of each analysed frame, compared with the last analysed
// one. Built from the detector's own letterboxed input, so gating costs no second JPEG decode.

export const THUMB_W = 64
export const THUMB_H = 48

/**
 * Grey thumbnail (box filter) of the top-left `nw` x `nh` image inside a planar B, G, R float
 * buffer of `size` x `size` (the YOLOX letterbox).
 */
export function thumbFromPlanar(buf: Float32Array, size: number, nw: number, nh: number): Uint8Array {
  const out = new Uint8Array(THUMB_W * THUMB_H)
  const plane = size * size
  for (let ty = 0; ty < THUMB_H; ty++) {
    const y0 = Math.floor((ty * nh) / THUMB_H)
    const y1 = Math.max(y0 + 1, Math.floor(((ty + 1) * nh) / THUMB_H))
    for (let tx = 0; tx < THUMB_W; tx++) {
      const x0 = Math.floor((tx * nw) / THUMB_W)
      const x1 = Math.max(x0 + 1, Math.floor(((tx + 1) * nw) / THUMB_W))
      let s = 0
      let n = 0
      // Sparse sampling (every other pixel) is plenty for a change detector.
      for (let y = y0; y < y1; y += 2) {
        for (let x = x0; x < x1; x += 2) {
          const p = y * size + x
          s += 0.114 * buf[p]! + 0.587 * buf[plane + p]! + 0.299 * buf[2 * plane + p]!
          n++
        }
      }
      out[ty * THUMB_W + tx] = n ? Math.round(s / n) : 0
    }
  }
  return out
}

/** Mean absolute grey-level difference, 0..1 (1 when the thumbnails are not comparable). */
export function thumbDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return 1
  let s = 0
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!)
  return s / (a.length * 255)
}
