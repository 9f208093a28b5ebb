import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { DRIFT_LEVELS, streetSequence, type StreetFrame } from './street-sequence.ts'

// The synthetic street camera of street-sequence.ts: deterministic, of the size asked for, its
// moving vehicles inside the frame, and its static parts the same in every frame up to sensor
// noise, drift and JPEG.

async function grey(jpeg: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(jpeg).greyscale().raw().toBuffer({ resolveWithObject: true })
  return { data, width: info.width, height: info.height }
}

const BLOCK = 16

/**
 * Per BLOCK x BLOCK block of a and b: the mean absolute grey difference of its pixels, and the
 * difference of the blocks' mean grey levels (what a downscaled motion thumbnail sees). Blocks
 * touching `masked` are left out.
 */
function blockDiffs(a: Buffer, b: Buffer, width: number, height: number, masked: Array<[number, number, number, number]>) {
  const out: Array<{ abs: number; mean: number }> = []
  for (let by = 0; by + BLOCK <= height; by += BLOCK)
    for (let bx = 0; bx + BLOCK <= width; bx += BLOCK) {
      if (masked.some(([x1, y1, x2, y2]) => bx < x2 && x1 < bx + BLOCK && by < y2 && y1 < by + BLOCK)) continue
      let abs = 0
      let signed = 0
      for (let y = by; y < by + BLOCK; y++)
        for (let x = bx; x < bx + BLOCK; x++) {
          const d = a[y * width + x]! - b[y * width + x]!
          abs += Math.abs(d)
          signed += d
        }
      out.push({ abs: abs / (BLOCK * BLOCK), mean: Math.abs(signed) / (BLOCK * BLOCK) })
    }
  return out
}

/** The boxes grown by `m` pixels (JPEG blocks and chroma subsampling spread a vehicle's edge). */
const grown = (frames: StreetFrame[], m: number) =>
  frames.flatMap((f) => f.moving.map(({ box: [x1, y1, x2, y2] }) => [x1 - m, y1 - m, x2 + m, y2 + m] as [number, number, number, number]))

describe('street camera sequence', () => {
  it('is the same for the same seed, and another for another seed', async () => {
    const a = await streetSequence({ width: 1280, height: 720, frames: 6, seed: 7 })
    const b = await streetSequence({ width: 1280, height: 720, frames: 6, seed: 7 })
    const c = await streetSequence({ width: 1280, height: 720, frames: 6, seed: 8 })
    expect(a.every((f, i) => f.jpeg.equals(b[i]!.jpeg))).toBe(true)
    expect(b.map((f) => f.moving)).toEqual(a.map((f) => f.moving))
    expect(c.some((f, i) => !f.jpeg.equals(a[i]!.jpeg))).toBe(true)
  })

  it.each([
    [1920, 1080],
    [1280, 720],
  ])('gives %ix%i frames with 0 to 3 moving vehicles inside the frame', async (width, height) => {
    const frames = await streetSequence({ width, height, frames: 40, seed: 3 })
    expect(frames).toHaveLength(40)
    for (const f of [frames[0]!, frames[17]!]) {
      const meta = await sharp(f.jpeg).metadata()
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', width, height])
    }
    const counts = frames.map((f) => f.moving.length)
    expect(Math.max(...counts)).toBeLessThanOrEqual(3)
    // About 1 frame in 4 without a moving vehicle.
    expect(counts.filter((n) => n === 0).length).toBeGreaterThanOrEqual(4)
    expect(counts.filter((n) => n === 0).length).toBeLessThanOrEqual(18)
    for (const f of frames)
      for (const { box, class: cls } of f.moving) {
        const [x1, y1, x2, y2] = box
        expect(0 <= x1 && x1 < x2 && x2 <= width && 0 <= y1 && y1 < y2 && y2 <= height, `${cls} ${box.join(',')}`).toBe(true)
        // Vehicles a few dozen pixels long, as the mosaic's parked ones.
        expect(x2 - x1).toBeGreaterThan(10)
        expect(x2 - x1).toBeLessThan(width / 10)
      }
  })

  it('changes between frames only where vehicles moved, elsewhere by noise and drift of a few grey levels', async () => {
    const frames = await streetSequence({ width: 1920, height: 1080, frames: 40, seed: 5 })
    // Frames 0 and 10: the drift is 0 in one and its peak in the other.
    const [f0, f1] = [frames[0]!, frames[10]!]
    const [a, b] = [await grey(f0.jpeg), await grey(f1.jpeg)]
    const still = blockDiffs(a.data, b.data, a.width, a.height, grown([f0, f1], 8))
    expect(still.length).toBeGreaterThan(0.8 * (a.width / BLOCK) * (a.height / BLOCK))
    // Block means move by the drift (0 to its peak here) and hardly more.
    expect(Math.max(...still.map((s) => s.mean))).toBeLessThanOrEqual(DRIFT_LEVELS + 1.5)
    // Pixel by pixel: noise and drift, a few grey levels; JPEG re-quantises textured blocks with
    // the noise, so a few of them reach about 9.
    const abs = still.map((s) => s.abs).sort((x, y) => x - y)
    expect(abs.reduce((s, v) => s + v, 0) / abs.length).toBeLessThanOrEqual(DRIFT_LEVELS + 2)
    expect(abs[Math.floor(abs.length * 0.99)]).toBeLessThanOrEqual(DRIFT_LEVELS + 6)
    expect(abs[abs.length - 1]).toBeLessThanOrEqual(12)
    // And where a vehicle was pasted, the change is plain.
    const moved = f0.moving.length ? f0 : f1
    expect(moved.moving.length).toBeGreaterThan(0)
    const [x1, y1, x2, y2] = moved.moving[0]!.box
    let s = 0
    for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) s += Math.abs(a.data[y * a.width + x]! - b.data[y * b.width + x]!)
    expect(s / ((x2 - x1) * (y2 - y1))).toBeGreaterThan(10)
  })
})
