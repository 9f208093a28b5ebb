import sharp, { type Sharp } from 'sharp'
import type { ModelManifest } from '../../models/manifest.ts'
import type { Detection } from './nms.ts'

// Feeding and decoding YOLOX exactly as its manifest (models/yolox_nano.json) and docs/vision.md "Models" say.

/** A crop of the source frame, in source pixels. */
export interface Region {
  x: number
  y: number
  w: number
  h: number
}

/** A decoded frame (RGB, 3 channels), for cutting many tiles without decoding again. */
export interface RawFrame {
  data: Buffer
  width: number
  height: number
}

export interface Letterbox {
  /** Scale from the region to the model input. */
  r: number
  region: Region
  /** Size of the resized region inside the canvas (top-left). */
  nw: number
  nh: number
}

/**
 * Crops to `region` when given, resizes with an antialiased filter keeping the aspect ratio,
 * pastes top-left on a `size`x`size` canvas of value `pad`, and writes planar B, G, R float32
 * 0..255 into `out` (length 3*size*size). The region comes from the frame's decoded `pixels`
 * when the engine decoded them (a tiled frame: one decode serves every tile and the whole-frame
 * pass), else from a decoder of the JPEG (EXIF orientation applied) that `decoder` makes for this
 * pass alone.
 */
export async function letterboxInto(
  decoder: () => Sharp,
  frame: { width: number; height: number },
  region: Region | null,
  size: number,
  pad: number,
  out: Float32Array,
  pixels?: RawFrame | undefined,
): Promise<Letterbox> {
  const reg = region ?? { x: 0, y: 0, w: frame.width, h: frame.height }
  const r = Math.min(size / reg.h, size / reg.w)
  const nw = Math.max(1, Math.floor(reg.w * r))
  const nh = Math.max(1, Math.floor(reg.h * r))
  // The pixels to convert: `nh` rows of `nw` RGB pixels, `stride` bytes apart, from `start`.
  let data: Buffer
  let start = 0
  let stride = nw * 3
  if (pixels && nw === reg.w && nh === reg.h) {
    // A region already at the model's scale (a tile): converted in place from the frame's pixels,
    // no copy of its rows (a 416-px tile: 1.1 ms with the copy, 1.0 ms without, measured here).
    data = pixels.data
    start = (reg.y * pixels.width + reg.x) * 3
    stride = pixels.width * 3
  } else if (pixels) {
    // From decoded pixels: copy the region's rows (a libvips pipeline over the whole frame per
    // region costs ~5 ms, the copy ~0.1 ms) and resize them. The whole frame needs no copy.
    let part = pixels.data
    if (region) {
      part = Buffer.allocUnsafe(reg.w * reg.h * 3)
      for (let y = 0; y < reg.h; y++) {
        const from = ((reg.y + y) * pixels.width + reg.x) * 3
        pixels.data.copy(part, y * reg.w * 3, from, from + reg.w * 3)
      }
    }
    data = await sharp(part, { raw: { width: reg.w, height: reg.h, channels: 3 } })
      .resize(nw, nh, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer()
  } else {
    let img = decoder()
    // libjpeg DCT scaling (1/2, 1/4, 1/8) only where sharp leaves at least a factor of two for the
    // antialiased resize (fastShrinkOnLoad off): a frame 4 or more times the model's input side,
    // e.g. 1920x1080 decoded at 960x540. Scaling closer to the input (fastShrinkOnLoad on: the
    // 1640x590 sample decoded at 820x295) moved a car's edge by 4 model pixels (IoU 0.89) against
    // the full decode (test/vision/decode-size.test.ts; docs/vision.md, "Decode size").
    if (region) img = img.extract({ left: reg.x, top: reg.y, width: reg.w, height: reg.h })
    data = await img.resize(nw, nh, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: false }).removeAlpha().raw().toBuffer()
  }
  const plane = size * size
  const b = out.subarray(0, plane)
  const g = out.subarray(plane, 2 * plane)
  const rr = out.subarray(2 * plane, 3 * plane)
  // Read through a plain Uint8Array: element loads from a Buffer (a Uint8Array subclass) made
  // this loop about 1.6 times slower, measured here.
  const src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  // RGB interleaved to planar BGR; values stay 0..255 (no /255, no mean, no std).
  for (let y = 0; y < nh; y++) {
    const row = y * size
    for (let x = 0, i = start + y * stride; x < nw; x++, i += 3) {
      b[row + x] = src[i + 2]!
      g[row + x] = src[i + 1]!
      rr[row + x] = src[i]!
    }
    if (nw < size) {
      b.fill(pad, row + nw, row + size)
      g.fill(pad, row + nw, row + size)
      rr.fill(pad, row + nw, row + size)
    }
  }
  if (nh < size) {
    b.fill(pad, nh * size)
    g.fill(pad, nh * size)
    rr.fill(pad, nh * size)
  }
  return { r, region: reg, nw, nh }
}

/** Grid decode of the raw `[1, N, 5 + C]` output, mapped back to source pixels, score >= threshold. */
export function decodeYolox(
  output: Float32Array,
  manifest: ModelManifest,
  lb: Letterbox,
  frame: { width: number; height: number },
  scoreThreshold: number,
): Detection[] {
  const size = manifest.input.shape[2]!
  const strides = manifest.output.strides ?? [8, 16, 32]
  const classes = manifest.classes
  const stride = 5 + classes.length
  const dets: Detection[] = []
  const { r, region } = lb
  let row = 0
  for (const s of strides) {
    const g = Math.floor(size / s)
    for (let gy = 0; gy < g; gy++) {
      for (let gx = 0; gx < g; gx++, row++) {
        const o = row * stride
        const obj = output[o + 4]!
        if (obj < scoreThreshold) continue // score = obj * cls <= obj
        let best = 0
        let bestScore = -1
        for (let c = 0; c < classes.length; c++) {
          const v = output[o + 5 + c]!
          if (v > bestScore) {
            bestScore = v
            best = c
          }
        }
        const score = obj * bestScore
        if (score < scoreThreshold) continue
        const cx = (output[o]! + gx) * s
        const cy = (output[o + 1]! + gy) * s
        const w = Math.exp(output[o + 2]!) * s
        const h = Math.exp(output[o + 3]!) * s
        const clip = (v: number, max: number) => Math.min(Math.max(v, 0), max)
        dets.push({
          classId: best,
          class: classes[best]!,
          score,
          box: [
            clip(region.x + (cx - w / 2) / r, frame.width),
            clip(region.y + (cy - h / 2) / r, frame.height),
            clip(region.x + (cx + w / 2) / r, frame.width),
            clip(region.y + (cy + h / 2) / r, frame.height),
          ],
        })
      }
    }
  }
  return dets
}
