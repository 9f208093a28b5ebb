import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Engine, type AnalyseResult } from '../../gateway/vision/engine.ts'
import type { Detection } from '../../gateway/vision/nms.ts'
import { iou } from '../../gateway/vision/nms.ts'
import { planRegions } from '../../gateway/vision/tiles.ts'
import { VEHICLE_CLASSES, emptyCounts, isVehicle } from '../../gateway/vision/zones.ts'
import { referenceResults } from '../support/samples.ts'
import { buildMosaic } from './mosaic.ts'
import { sample } from './support.ts'

// Decode size (docs/vision.md, "Decode size"): each frame is decoded at the size its passes need
// (libjpeg DCT scaling for a large frame in one pass; one full decode shared by the tiles and the
// whole-frame pass of a tiled frame). Judged against the full decode, computed here on the same
// frames by the same engine with `decode: 'full'` (every pass resized from full-size pixels, the
// reference pipeline of docs/vision.md "Models"), so the reference cannot go stale.

const SAMPLES = ['coco_000000001532.jpg', 'coco_000000001584.jpg', 'coco_000000007816.jpg', 'culane_lane00000.jpg', 'flood_lagos_2019.jpg']
const DETECTOR = { type: 'yolox-onnx', model: 'yolox_nano', scoreThreshold: 0.3, nmsIou: 0.45, nmsIos: 0.7 }
/** Largest move of a box edge allowed, in model-input pixels (scaled to the frame by the letterbox ratio). */
const EDGE_MODEL_PX = 4
const MIN_IOU = 0.9

const expected = referenceResults<{ images: Record<string, { count_range: Record<string, [number, number]> }> }>()

let atModelSize: Engine
let full: Engine
beforeAll(async () => {
  const o = { detector: DETECTOR, segmenter: null, threads: 1 }
  atModelSize = await Engine.open({ ...o, segmenter: { type: 'deeplab-onnx', model: 'deeplabv3_mnv2_ade20k_uint8' } })
  full = await Engine.open({ ...o, decode: 'full' })
})
afterAll(async () => {
  await atModelSize?.close()
  await full?.close()
})

const vehicles = (r: AnalyseResult, min = 0.5): Detection[] => r.objects.filter((o) => isVehicle(o.class) && o.score >= min)

/**
 * Every vehicle of the reference at score >= 0.5 has one in `got` of the same class (score >= 0.4:
 * a borderline score may move a little) with IoU >= 0.9 or every edge within EDGE_MODEL_PX model
 * pixels; returns the worst edge move in model pixels and the lowest IoU, for the message.
 */
function sameBoxes(ref: AnalyseResult, got: AnalyseResult, label: string): { worstEdge: number; worstIou: number } {
  const r = Math.min(416 / ref.width, 416 / ref.height)
  let worstEdge = 0
  let worstIou = 1
  for (const want of vehicles(ref)) {
    const candidates = vehicles(got, 0.4).filter((o) => o.class === want.class)
    const best = candidates.sort((a, b) => iou(b.box, want.box) - iou(a.box, want.box))[0]
    expect(best, `${label}: no ${want.class} near [${want.box.map(Math.round).join(', ')}]`).toBeDefined()
    const edge = Math.max(...want.box.map((v, i) => Math.abs(v - best!.box[i]!))) * r
    const o = iou(best!.box, want.box)
    expect(o >= MIN_IOU || edge <= EDGE_MODEL_PX, `${label}: ${want.class} IoU ${o.toFixed(3)}, edge ${edge.toFixed(1)} model px`).toBe(
      true,
    )
    worstEdge = Math.max(worstEdge, edge)
    worstIou = Math.min(worstIou, o)
  }
  if (process.env.DECODE_REPORT)
    console.log(
      `${label}: ${vehicles(ref).length} vehicles, worst edge ${worstEdge.toFixed(2)} model px, lowest IoU ${worstIou.toFixed(3)}`,
    )
  return { worstEdge, worstIou }
}

function counts(r: AnalyseResult) {
  const c = emptyCounts()
  for (const o of vehicles(r)) c[o.class as keyof typeof c]++
  return c
}

describe('decode at the size the model needs', () => {
  it.each(SAMPLES)('%s at full size, one pass: counts in count_range, boxes as the full decode', async (name) => {
    const jpeg = sample(name)
    const ref = await full.analyse({ jpeg, regions: [null], segment: false })
    const got = await atModelSize.analyse({ jpeg, regions: [null], segment: false })
    expect(got.timings.jpegDecodes).toBe(1)
    expect([got.width, got.height]).toEqual([ref.width, ref.height])
    sameBoxes(ref, got, name)
    const c = counts(got)
    if (expected) {
      for (const k of VEHICLE_CLASSES) {
        const [lo, hi] = expected.images[name]!.count_range[k]!
        expect(c[k], `${name} ${k}`).toBeGreaterThanOrEqual(lo)
        expect(c[k], `${name} ${k}`).toBeLessThanOrEqual(hi)
      }
    } else {
      expect(c).toEqual(counts(ref))
    }
  })

  it('a 1920x1080 frame in one pass (tiling off): decoded at half size, counts and boxes as the full decode', async () => {
    const { jpeg } = await buildMosaic()
    const ref = await full.analyse({ jpeg, regions: [null], segment: false })
    const got = await atModelSize.analyse({ jpeg, regions: [null], segment: false })
    expect(counts(got)).toEqual(counts(ref))
    sameBoxes(ref, got, 'mosaic, one pass')
  })

  it('a tiled 1920x1080 frame: one JPEG decode for the tiles and the whole-frame pass, the same objects as the full decode', async () => {
    const { jpeg } = await buildMosaic()
    const regions = { zones: [], tiling: undefined }
    const ref = await full.analyse({ jpeg, regions, segment: false })
    const got = await atModelSize.analyse({ jpeg, regions, segment: false })
    expect(got.regions).toBe(planRegions({ width: 1920, height: 1080 }, [], undefined).length)
    expect(got.regions).toBeGreaterThan(10)
    // Before, the whole-frame pass decoded the JPEG a second time.
    expect(got.timings.jpegDecodes).toBe(1)
    expect(counts(got)).toEqual(counts(ref))
    expect(got.objects).toEqual(ref.objects)
  })

  it('a tiled frame with a flood zone: the segmenter takes the same decode, with the same result as from the JPEG', async () => {
    const { jpeg } = await buildMosaic()
    const got = await atModelSize.analyse({ jpeg, regions: { zones: [], tiling: undefined }, segment: true })
    expect(got.regions).toBeGreaterThan(10)
    expect(got.timings.jpegDecodes).toBe(1)
    const fromJpeg = await atModelSize.analyse({ jpeg, regions: [null], segment: true })
    expect(fromJpeg.timings.jpegDecodes).toBe(2)
    expect(got.seg!.classes).toEqual(fromJpeg.seg!.classes)
  })

  it('a tiled frame: the motion grid comes from the same decode', async () => {
    const { jpeg } = await buildMosaic()
    const regions = { zones: [], tiling: { enabled: true, fullFrame: false } }
    const motion = { prev: null, threshold: 0.04, force: true }
    const got = await atModelSize.analyse({ jpeg, regions, segment: false, motion })
    expect(got.regions).toBeGreaterThan(10)
    expect(got.timings.jpegDecodes).toBe(1)
    // Each cell's mean over all its pixels, decoded straight from the JPEG: the grid (every other
    // pixel sampled) within a grey level or two on average.
    const grid = got.grid!
    expect([grid.w, grid.h, grid.cell]).toEqual([160, 90, 12])
    const rgb = await sharp(jpeg).raw().toBuffer()
    const direct = Array.from(grid.data, (_, i) => {
      const gx = i % grid.w
      const gy = (i - gx) / grid.w
      let s = 0
      for (let y = gy * 12; y < gy * 12 + 12; y++)
        for (let x = gx * 12; x < gx * 12 + 12; x++) {
          const p = (y * 1920 + x) * 3
          s += 0.299 * rgb[p]! + 0.587 * rgb[p + 1]! + 0.114 * rgb[p + 2]!
        }
      return s / 144
    })
    const diff = grid.data.reduce((s, v, i) => s + Math.abs(v - direct[i]!), 0) / direct.length
    expect(diff).toBeLessThan(2)
  })

  it('a 640-px frame (the benchmark frames) gives the same objects as the full decode, in one decode', async () => {
    for (const name of SAMPLES) {
      const jpeg = await sharp(sample(name)).resize({ width: 640 }).jpeg({ quality: 85 }).toBuffer()
      const ref = await full.analyse({ jpeg, regions: [null], segment: false })
      const got = await atModelSize.analyse({ jpeg, regions: [null], segment: false })
      expect(got.timings.jpegDecodes).toBe(1)
      expect(counts(got), name).toEqual(counts(ref))
      sameBoxes(ref, got, `${name} at 640 px`)
    }
  })
})
