import { readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { describe, expect, it } from 'vitest'
import { resolveModel } from '../../models/manifest.ts'
import { waterRatio, zoneMask } from '../../gateway/vision/flood.ts'
import { iou } from '../../gateway/vision/nms.ts'
import { VEHICLE_CLASSES, emptyCounts, isVehicle } from '../../gateway/vision/zones.ts'
import { referenceResults, samplePath } from '../support/samples.ts'
import { LOWER_HALF, WHOLE_FRAME } from '../support/zones.ts'
import { useVisionPool } from './support.ts'

// The real models on the real sample photos, through the worker pool (so the tsx worker setup is
// exercised under vitest too), against the reference results in samples/expected.json (which come
// with the reference model set only: without them the comparisons skip, except in CI).

interface Expected {
  width: number
  height: number
  count_range: Record<string, [number, number]>
  detections_score_ge_0_3: Array<{ class: string; score: number; box: [number, number, number, number] }>
  water_ratio: { reference: number; lower_half_of_frame: number }
}
const expected = referenceResults<{ images: Record<string, Expected> }>()

const pool = useVisionPool(1, true)

describe('model files', () => {
  it('are found and match the manifest sha256', async () => {
    const y = await resolveModel('yolox_nano')
    expect(y.sha256).toBe('695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14')
    expect(dirname(y.path)).toMatch(/models$/)
    await expect(resolveModel('yolox_nano', dirname(samplePath('coco_000000001532.jpg')))).resolves.toBeTruthy() // falls through to the next folder
  })
})

const lowerHalf = {
  id: 'lower',
  kind: 'flood' as const,
  polygon: LOWER_HALF,
}
const whole = {
  id: 'all',
  kind: 'flood' as const,
  polygon: WHOLE_FRAME,
}

describe.skipIf(!expected).each(Object.keys(expected?.images ?? { none: null }))('sample %s', (name) => {
  const exp = expected?.images[name] as Expected
  it('counts per class within count_range, boxes within a few pixels of the reference, water_ratio as the reference', async () => {
    const jpeg = readFileSync(samplePath(name))
    const r = await pool.analyse({ jpeg, regions: [null], segment: true })
    expect([r.width, r.height]).toEqual([exp.width, exp.height])

    const counts = emptyCounts()
    for (const o of r.objects) if (isVehicle(o.class) && o.score >= 0.5) counts[o.class]++
    for (const c of VEHICLE_CLASSES) {
      const [lo, hi] = exp.count_range[c]!
      expect(counts[c], `${name} ${c}`).toBeGreaterThanOrEqual(lo)
      expect(counts[c], `${name} ${c}`).toBeLessThanOrEqual(hi)
    }

    // Every reference box at >= 0.5 has a detection of the same class within 6 px on each side.
    for (const ref of exp.detections_score_ge_0_3.filter((d) => d.score >= 0.5)) {
      const match = r.objects.find((o) => o.class === ref.class && o.box.every((v, i) => Math.abs(v - ref.box[i]!) <= 6))
      const nearest = Math.max(0, ...r.objects.map((o) => iou(o.box, ref.box)))
      expect(match, `${name}: ${ref.class} ${ref.score} ${ref.box} (best IoU ${nearest.toFixed(2)})`).toBeTruthy()
      expect(Math.abs(match!.score - ref.score)).toBeLessThan(0.05)
    }

    const seg = r.seg!
    const all = waterRatio(seg, zoneMask(whole, seg.width, seg.height), [22, 27], null)
    const lower = waterRatio(seg, zoneMask(lowerHalf, seg.width, seg.height), [22, 27], null)
    expect(all.ratio).toBeCloseTo(exp.water_ratio.reference, 2)
    expect(lower.ratio).toBeCloseTo(exp.water_ratio.lower_half_of_frame, 2)
    if (!name.startsWith('flood')) expect(all.ratio).toBe(0)
  })
})
