import { describe, expect, it } from 'vitest'
import { waterRatio, zoneMask } from '../../gateway/vision/flood.ts'
import { camera, publish, sample, samplePath, useVision, visionConfig } from './support.ts'
import { LOWER_HALF } from '../support/zones.ts'

const street = {
  id: 'street',
  kind: 'flood' as const,
  polygon: LOWER_HALF,
}

describe('water_ratio compensation against a dry reference (unit)', () => {
  const W = 8
  const H = 8
  const zone = zoneMask(street, W, H) // the lower 4 rows: 32 pixels
  const seg = (wet: (x: number, y: number) => boolean) => {
    const classes = new Uint8Array(W * H)
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) classes[y * W + x] = wet(x, y) ? 22 : 7
    return { width: W, height: H, classes }
  }
  it('counts only water that the dry reference did not already show', () => {
    // A blue wall in column 0 reads as water every day; on the flood day rows 6-7 are wet too.
    const dry = seg((x) => x === 0)
    const dryMask = new Uint8Array(W * H).map((_, i) => (dry.classes[i] === 22 ? 1 : 0))
    const flood = seg((x, y) => x === 0 || y >= 6)
    expect(zone.reduce((s, v) => s + v, 0)).toBe(32)
    expect(waterRatio(dry, zone, [22, 27], null).ratio).toBe(0.125) // uncompensated: the wall
    expect(waterRatio(dry, zone, [22, 27], dryMask)).toEqual({ raw: 0.125, ratio: 0, compensated: true })
    // 18 wet of 32 raw (wall 4 + rows 6-7 16 - 2 shared); new water 14 of the 28 zone pixels that were not water on the dry day.
    expect(waterRatio(flood, zone, [22, 27], dryMask)).toEqual({ raw: 0.5625, ratio: 0.5, compensated: true })
  })
})

describe('flood zone through the pipeline', () => {
  const v = useVision(
    visionConfig({
      flood: { everyMs: 0 },
      motion: { enabled: false },
      cameras: {
        'cam-flood-raw': { zones: [street] },
        // The flood photo as its own "dry" reference: all the water it shows is treated as permanent.
        'cam-flood-self': { zones: [street], dryReference: samplePath('flood_lagos_2019.jpg') },
        'cam-dry-street': { zones: [street] },
      },
    }),
  )

  it('reports the flood sample, 0 on a dry street, and 0 when the reference already shows that water', async () => {
    const flood = sample('flood_lagos_2019.jpg')
    await v.vision.frames(publish(camera('cam-flood-raw'), flood, 'frames/1700000000000'))
    await v.vision.frames(publish(camera('cam-flood-self'), flood, 'frames/1700000000000'))
    await v.vision.frames(publish(camera('cam-dry-street'), sample('coco_000000001532.jpg'), 'frames/1700000000000'))
    await v.vision.pipeline.settled()
    const ratio = (cam: string) => v.points.find((p) => p.camera === cam && p.zone === 'street')!.fields.water_ratio
    console.log(`flood_lagos_2019.jpg lower-half flood zone: water_ratio ${ratio('cam-flood-raw')} uncompensated`)
    expect(ratio('cam-flood-raw')).toBeCloseTo(0.2355, 2)
    expect(ratio('cam-flood-self')).toBe(0)
    expect(ratio('cam-dry-street')).toBe(0)
    const ev = v.events.find((e) => e.camera === 'cam-flood-raw' && e.zone === 'street')!
    expect(ev.water_ratio).toBeCloseTo(0.2355, 2)
    const rec = (await v.vision.detections('cam-flood-raw', 0, 2e12, 10)).items[0]!
    expect(rec.water_ratio).toBeCloseTo(0.2355, 2)
  })
})
