import sharp from 'sharp'
import { mulberry32 } from '../../gateway/util/mulberry32.ts'
import { buildMosaic, CELL } from './mosaic.ts'
import { sample } from './support.ts'

// What a traffic camera sending one frame every 5 s sees: a mostly static street (the 1920x1080
// mosaic of mosaic.ts, whose parked vehicles the tiling tests count) and a few moving vehicles,
// each in a different place in every frame (at 5 s a frame a moving car is elsewhere by the next
// one). The vehicles are cut from the sample photos and scaled as their photo is in the mosaic;
// every frame also gets its own sensor noise and a slow global brightness drift, then a JPEG at
// quality 80 (the edge driver's default jpeg_quality, docs/vision.md). Outside the moving
// vehicles, two frames differ only by that noise and drift. Deterministic for a given seed.

export interface StreetFrame {
  jpeg: Buffer
  /** The vehicles pasted into this frame: [x1, y1, x2, y2] in frame pixels (x2, y2 exclusive). */
  moving: Array<{ box: [number, number, number, number]; class: string }>
}

export interface StreetOptions {
  width: number
  height: number
  frames: number
  seed?: number | undefined
}

/** Vehicle boxes in the sample photos, measured once on the photos (x1, y1, x2, y2 in photo pixels). */
export const SPRITES: ReadonlyArray<{ photo: string; box: [number, number, number, number]; class: string }> = [
  { photo: 'coco_000000001532.jpg', box: [105, 370, 184, 440], class: 'truck' }, // white van
  { photo: 'coco_000000001532.jpg', box: [0, 372, 115, 480], class: 'car' }, // taxi
  { photo: 'coco_000000001532.jpg', box: [426, 395, 488, 451], class: 'car' }, // dark SUV from behind
  { photo: 'culane_lane00000.jpg', box: [1, 315, 263, 477], class: 'car' }, // black saloon, side view
  { photo: 'culane_lane00000.jpg', box: [899, 287, 1056, 369], class: 'car' }, // black saloon from behind
  { photo: 'flood_lagos_2019.jpg', box: [846, 186, 965, 306], class: 'car' }, // grey saloon, front
  { photo: 'coco_000000001584.jpg', box: [508, 315, 569, 385], class: 'bus' }, // red bus, far
]

/** Sensor noise: each channel of each pixel moves by up to this many grey levels. */
export const NOISE_LEVELS = 2
/** Global brightness drift: a sine of this amplitude (grey levels) over the whole sequence, so a looped sequence has no jump. */
export const DRIFT_LEVELS = 2
/** Share of frames with no moving vehicle. */
const EMPTY_SHARE = 0.25
const MAX_MOVING = 3
const MOSAIC = { w: 1920, h: 1080 }
const ROWS = MOSAIC.h / CELL.h

interface Raw {
  data: Buffer
  width: number
  height: number
}

const backgrounds = new Map<string, Promise<Raw>>()
const spriteSets = new Map<string, Promise<Array<Raw & { class: string }>>>()

/** The mosaic as raw RGB at the frame size (resized when not 1920x1080), built once per size. */
function background(width: number, height: number): Promise<Raw> {
  const key = `${width}x${height}`
  let p = backgrounds.get(key)
  if (!p) {
    p = buildMosaic().then(async ({ jpeg }) => {
      let img = sharp(jpeg).removeAlpha()
      if (width !== MOSAIC.w || height !== MOSAIC.h) img = img.resize(width, height, { fit: 'fill', kernel: 'linear' })
      const { data, info } = await img.raw().toBuffer({ resolveWithObject: true })
      return { data, width: info.width, height: info.height }
    })
    backgrounds.set(key, p)
  }
  return p
}

/** The vehicles as raw RGB, scaled as their photo is in a mosaic cell, then as the mosaic is to the frame. */
function sprites(width: number, height: number): Promise<Array<Raw & { class: string }>> {
  const key = `${width}x${height}`
  let p = spriteSets.get(key)
  if (!p) {
    p = Promise.all(
      SPRITES.map(async (s) => {
        const photo = sample(s.photo)
        const meta = await sharp(photo).metadata()
        const scale = Math.min(CELL.w / meta.width, CELL.h / meta.height)
        const [x1, y1, x2, y2] = s.box
        const w = Math.max(1, Math.round((x2 - x1) * scale * (width / MOSAIC.w)))
        const h = Math.max(1, Math.round((y2 - y1) * scale * (height / MOSAIC.h)))
        const { data, info } = await sharp(photo)
          .extract({ left: x1, top: y1, width: x2 - x1, height: y2 - y1 })
          .resize(w, h, { fit: 'fill', kernel: 'linear' })
          .removeAlpha()
          .raw()
          .toBuffer({ resolveWithObject: true })
        return { data, width: info.width, height: info.height, class: s.class }
      }),
    )
    spriteSets.set(key, p)
  }
  return p
}

function paste(dst: Raw, src: Raw, x: number, y: number): void {
  const row = src.width * 3
  for (let r = 0; r < src.height; r++) src.data.copy(dst.data, ((y + r) * dst.width + x) * 3, r * row, (r + 1) * row)
}

const overlaps = (a: number[], b: number[]) => a[0]! < b[2]! && b[0]! < a[2]! && a[1]! < b[3]! && b[1]! < a[3]!

/**
 * Adds this frame's noise (uniform, ±NOISE_LEVELS per channel) and drift to every byte. Each
 * random byte picks a continuous offset in [-NOISE_LEVELS - 0.5, NOISE_LEVELS + 0.5) plus the
 * drift, rounded: the fractional drift is dithered, not stepped. Writing to a Uint8ClampedArray
 * clamps to 0..255.
 */
function addNoise(data: Buffer, drift: number, rnd: () => number): void {
  const add = new Int8Array(256)
  const span = 2 * NOISE_LEVELS + 1
  for (let b = 0; b < 256; b++) add[b] = Math.round(drift + ((b + 0.5) * span) / 256 - span / 2)
  const out = new Uint8ClampedArray(data.buffer, data.byteOffset, data.length)
  const n = data.length
  let i = 0
  while (i < n) {
    let r = (rnd() * 4294967296) >>> 0
    for (let k = 0; k < 4 && i < n; k++, i++, r >>>= 8) out[i] = data[i]! + add[r & 255]!
  }
}

/**
 * `frames` frames of the street at width x height. Frame i has 0 to MAX_MOVING vehicles (none in
 * about 1 frame in 4) at places of its own: what moved between two frames is where the vehicles of
 * either are. The drift is DRIFT_LEVELS * sin(2 pi i / frames), so the sequence can be looped.
 */
export async function streetSequence(opts: StreetOptions): Promise<StreetFrame[]> {
  const { width, height, frames } = opts
  const seed = opts.seed ?? 1
  const bg = await background(width, height)
  const cars = await sprites(width, height)
  const rnd = mulberry32(seed)
  const out: Array<Promise<StreetFrame>> = []
  for (let i = 0; i < frames; i++) {
    const frame: Raw = { data: Buffer.from(bg.data), width, height }
    const moving: StreetFrame['moving'] = []
    const count = rnd() < EMPTY_SHARE ? 0 : 1 + Math.floor(rnd() * MAX_MOVING)
    for (let v = 0; v < count; v++) {
      const car = cars[Math.floor(rnd() * cars.length)]!
      // A free place for it (the vehicles of one frame do not overlap); given up after a few tries.
      for (let tries = 0; tries < 20; tries++) {
        // On the road: its bottom edge in the lower 40 % of a mosaic row, where the photos' streets are.
        const x = Math.floor(rnd() * (width - car.width + 1))
        const bottom = ((Math.floor(rnd() * ROWS) + 0.6 + 0.4 * rnd()) * height) / ROWS
        const y = Math.min(height - car.height, Math.max(0, Math.round(bottom) - car.height))
        const box: [number, number, number, number] = [x, y, x + car.width, y + car.height]
        if (moving.some((m) => overlaps(m.box, box))) continue
        paste(frame, car, x, y)
        moving.push({ box, class: car.class })
        break
      }
    }
    addNoise(
      frame.data,
      DRIFT_LEVELS * Math.sin((2 * Math.PI * i) / frames),
      mulberry32((Math.imul(seed, 0x9e3779b1) + Math.imul(i + 1, 0x85ebca6b)) >>> 0),
    )
    out.push(
      sharp(frame.data, { raw: { width, height, channels: 3 } })
        .jpeg({ quality: 80 })
        .toBuffer()
        .then((jpeg) => ({ jpeg, moving })),
    )
    // A few encodes in flight (libvips threads) while the next frame is built, without holding every raw frame.
    if (out.length >= 4) await out[out.length - 4]
  }
  return Promise.all(out)
}
