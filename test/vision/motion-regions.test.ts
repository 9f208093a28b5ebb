import { describe, expect, it } from 'vitest'
import { anyMotion, motionBoxes, movedCells, type MotionGrid } from '../../gateway/vision/motion.ts'
import type { Detection } from '../../gateway/vision/nms.ts'
import { motionRegions, planRegions } from '../../gateway/vision/tiles.ts'
import { carryObjects } from '../../gateway/vision/tracker.ts'
import { WHOLE_FRAME } from '../support/zones.ts'

// Motion regions and the objects carried between frames (docs/vision.md, "Motion"), piece by
// piece on made-up grids and boxes; test/vision/street.test.ts runs them on a camera sequence.

/** A 160x90 grid of a 1920x1080 frame (12-px cells), flat grey. */
function flat(level = 100): MotionGrid {
  return { w: 160, h: 90, cell: 12, data: new Uint8Array(160 * 90).fill(level) }
}

function paint(g: MotionGrid, x: number, y: number, w: number, h: number, level: number): MotionGrid {
  const data = g.data.slice()
  for (let yy = y; yy < y + h; yy++) for (let xx = x; xx < x + w; xx++) data[yy * g.w + xx] = level
  return { ...g, data }
}

const FRAME = { width: 1920, height: 1080 }
const zones = [{ id: 'road', kind: 'count' as const, polygon: WHOLE_FRAME }]
const PLAN = planRegions(FRAME, zones, undefined)

function det(box: [number, number, number, number], cls = 'car', score = 0.8): Detection {
  return { classId: cls === 'car' ? 2 : 7, class: cls, score, box }
}

describe('moved cells', () => {
  it('the same picture, or the whole picture a few levels brighter, has not moved', () => {
    const a = flat()
    const textured = paint(paint(a, 10, 10, 40, 20, 180), 100, 50, 30, 30, 30)
    expect(anyMotion(a, a, 0.04)).toBe(false)
    const brighter = { ...textured, data: textured.data.map((v) => v + 12) }
    expect(anyMotion(brighter, textured, 0.04)).toBe(false)
  })

  it('a changed patch moves exactly its cells, and a threshold above the change moves none', () => {
    const a = flat()
    const b = paint(a, 20, 30, 3, 2, 140)
    const moved = movedCells(b, a, 0.04)!
    const at = [...moved.keys()].filter((i) => moved[i])
    expect(at).toEqual([30 * 160 + 20, 30 * 160 + 21, 30 * 160 + 22, 31 * 160 + 20, 31 * 160 + 21, 31 * 160 + 22])
    expect(anyMotion(b, a, 40 / 255)).toBe(false)
  })

  it('grids of different frame sizes are not comparable: everything moved', () => {
    const a = flat()
    const small = { w: 107, h: 60, cell: 6, data: new Uint8Array(107 * 60) }
    expect(movedCells(small, a, 0.04)).toBeNull()
    expect(anyMotion(small, a, 0.04)).toBe(true)
  })
})

describe('motion boxes', () => {
  it('one box per group of moved cells, cells one apart joined, in source pixels', () => {
    const a = flat()
    // A car in two parts with a one-cell gap (windscreen the same grey as the road), and a second car far away.
    let b = paint(a, 10, 10, 2, 2, 200)
    b = paint(b, 13, 10, 2, 2, 200)
    b = paint(b, 100, 60, 4, 3, 20)
    const boxes = motionBoxes(b, movedCells(b, a, 0.04)!)
    expect(boxes).toEqual([
      { x: 120, y: 120, w: 60, h: 24 },
      { x: 1200, y: 720, w: 48, h: 36 },
    ])
  })
})

describe('motion regions over a tiled plan', () => {
  const holds = (t: { x: number; y: number; w: number; h: number }, b: typeof t) =>
    b.x >= t.x && b.y >= t.y && b.x + b.w <= t.x + t.w && b.y + b.h <= t.y + t.h

  it("a small moving box: the plan's tiles that hold it whole, in the plan's order, no whole-frame pass", () => {
    const box = { x: 900, y: 500, w: 48, h: 36 }
    const regions = motionRegions(PLAN, [box])
    expect(regions).toEqual(PLAN.filter((t) => t !== null && holds(t, box)))
    expect(regions.length).toBeGreaterThan(0)
    // Boxes in one tile only, and one that no tile holds whole (across a tile's edge, outside the overlaps).
    const corner = { x: 10, y: 10, w: 40, h: 30 }
    expect(motionRegions(PLAN, [corner])).toEqual([PLAN[1]])
    const across = { x: 350, y: 100, w: 370, h: 30 }
    const touched = motionRegions(PLAN, [across])
    expect(touched.length).toBeGreaterThan(1)
    for (const t of touched) expect(holds(t!, across)).toBe(false)
  })

  it('a box larger than a tile: the tiles under it and the whole-frame pass', () => {
    const big = { x: 100, y: 100, w: 700, h: 300 }
    const regions = motionRegions(PLAN, [big])
    expect(regions[0]).toBeNull()
    const tiles = regions.slice(1) as Array<{ x: number; y: number; w: number; h: number }>
    expect(tiles.length).toBeGreaterThan(1)
    for (const t of tiles) {
      expect(PLAN).toContainEqual(t)
      expect(t.x < big.x + big.w && big.x < t.x + t.w && t.y < big.y + big.h && big.y < t.y + t.h).toBe(true)
    }
  })

  it('motion outside the counting zones is ignored; small motion everywhere runs every tile, and with a large box the whole plan', () => {
    const left = [
      {
        id: 'left',
        kind: 'count' as const,
        polygon: [
          [0, 0],
          [0.4, 0],
          [0.4, 1],
          [0, 1],
        ] as Array<[number, number]>,
      },
    ]
    const plan = planRegions(FRAME, left, { enabled: true })
    expect(motionRegions(plan, [{ x: 1500, y: 500, w: 40, h: 30 }])).toEqual([])
    const everywhere = Array.from({ length: 40 }, (_, i) => ({ x: (i % 8) * 240, y: Math.floor(i / 8) * 216, w: 30, h: 30 }))
    expect(motionRegions(PLAN, everywhere)).toEqual(PLAN.filter((t) => t !== null))
    expect(motionRegions(PLAN, [...everywhere, { x: 0, y: 0, w: 500, h: 100 }])).toBe(PLAN)
  })
})

describe('objects carried where nothing moved', () => {
  const scope = { analysed: [{ x: 700, y: 300, w: side(), h: side() }], moving: [{ x: 900, y: 500, w: 48, h: 36 }] }
  function side(): number {
    return Math.max(...PLAN.filter((r) => r !== null).map((r) => r!.w))
  }

  it('a parked car away from the motion is kept, whether or not a crop found it again', () => {
    const parked = det([100, 100, 160, 140])
    const inCrop = det([750, 350, 800, 390])
    const arrived = det([905, 505, 945, 535])
    expect(carryObjects([parked, inCrop], [arrived], scope, 0.45, 0.7)).toEqual([arrived, parked, inCrop])
  })

  it("a crop's second look at a parked car (a weaker score, a fragment at its edge) does not replace or double it", () => {
    const parked = det([750, 350, 800, 390], 'car', 0.8)
    const weaker = det([751, 351, 801, 391], 'car', 0.4)
    const fragment = det([700, 350, 720, 390], 'car', 0.6)
    expect(carryObjects([parked], [weaker, fragment], scope, 0.45, 0.7)).toEqual([parked])
  })

  it('a car under a moving box has left, and a detection there is the vehicle now in that place', () => {
    const left = det([880, 490, 940, 530])
    expect(carryObjects([left], [], scope, 0.45, 0.7)).toEqual([])
    const moved = det([890, 500, 950, 540], 'truck', 0.7)
    expect(carryObjects([left], [moved], scope, 0.45, 0.7)).toEqual([moved])
  })

  it('a vehicle that arrives next to a parked one: both counted', () => {
    const parked = det([860, 500, 898, 536])
    const arrived = det([902, 502, 946, 534])
    expect(carryObjects([parked], [arrived], scope, 0.45, 0.7)).toEqual([arrived, parked])
  })
})
