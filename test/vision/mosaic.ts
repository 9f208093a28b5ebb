import sharp, { type OverlayOptions } from 'sharp'
import { sample } from './support.ts'

// A wide 1920x1080 frame in which vehicles are a few dozen pixels tall, built from the real
// sample photos: each photo is scaled down to a 480x270 cell of a 4x4 mosaic (letterboxed in
// grey, aspect kept). Vehicles keep their real appearance at the size a high camera over a wide
// road sees them; what the mosaic lacks is that view's perspective and road layout.

export const MOSAIC_PHOTOS = ['coco_000000001532.jpg', 'coco_000000001584.jpg', 'culane_lane00000.jpg', 'flood_lagos_2019.jpg'] as const
export const CELL = { w: 480, h: 270 }

export async function cellImage(name: string): Promise<Buffer> {
  return sharp(sample(name))
    .resize(CELL.w, CELL.h, { fit: 'contain', background: { r: 110, g: 110, b: 110 }, kernel: 'linear' })
    .removeAlpha()
    .jpeg({ quality: 90 })
    .toBuffer()
}

export async function buildMosaic(): Promise<{ jpeg: Buffer; cells: Array<{ name: string; x: number; y: number }> }> {
  const cells: Array<{ name: string; x: number; y: number }> = []
  const composites: OverlayOptions[] = []
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      // Shift the photo order per row so neighbours differ.
      const name = MOSAIC_PHOTOS[(c + r) % MOSAIC_PHOTOS.length]!
      const x = c * CELL.w
      const y = r * CELL.h
      cells.push({ name, x, y })
      composites.push({ input: await cellImage(name), left: x, top: y })
    }
  }
  const jpeg = await sharp({ create: { width: 1920, height: 1080, channels: 3, background: { r: 110, g: 110, b: 110 } } })
    .composite(composites)
    .jpeg({ quality: 90 })
    .toBuffer()
  return { jpeg, cells }
}
