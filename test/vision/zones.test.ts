import { describe, expect, it } from 'vitest'
import type { CountZone } from '../../gateway/vision/config.ts'
import { checkFrameBytes, captureTime } from '../../gateway/vision/frame-check.ts'
import { nms, type Detection } from '../../gateway/vision/nms.ts'
import { zoneStats } from '../../gateway/vision/zones.ts'

const frame = { width: 1000, height: 1000 }
const lane: CountZone = {
  id: 'lane',
  kind: 'count',
  polygon: [
    [0, 0.5],
    [0.5, 0.5],
    [0.5, 1],
    [0, 1],
  ],
  capacityPcu: 10,
}
const det = (cls: string, box: [number, number, number, number], score = 0.9): Detection => ({ classId: 0, class: cls, score, box })
const OCC = [0.15, 0.3, 0.5] as const
const PCU = [0.4, 0.7, 1.0] as const

describe('zone statistics', () => {
  it('counts a vehicle by its ground point, and only at the counting score', () => {
    const objects = [
      det('car', [100, 600, 200, 700]), // in
      det('bus', [400, 100, 480, 450]), // tall, but its ground point (y=450) is above the zone
      det('motorcycle', [450, 900, 560, 990]), // ground point x=505: outside
      det('truck', [10, 800, 60, 900], 0.45), // below 0.5: seen, not counted
      det('person', [300, 800, 320, 900]), // not a vehicle
    ]
    const s = zoneStats(lane, objects, frame, 0.5, OCC, PCU)
    expect(s.counts).toEqual({ car: 1, motorcycle: 0, bus: 0, truck: 0, bicycle: 0 })
  })

  it('rates congestion from occupancy or passenger-car units, whichever is higher', () => {
    const empty = zoneStats(lane, [], frame, 0.5, OCC, PCU)
    expect(empty).toMatchObject({ occupancy: 0, pcu: 0, congestion: 0 })
    // 10 motorcycles = 3 PCU of 10: level 0 by PCU; small boxes, low occupancy.
    const bikes = Array.from({ length: 10 }, (_, i) => det('motorcycle', [20 + i * 45, 900, 50 + i * 45, 960]))
    expect(zoneStats(lane, bikes, frame, 0.5, OCC, PCU).congestion).toBe(0)
    // 4 trucks = 10 PCU of 10: level 3 by PCU.
    const trucks = Array.from({ length: 4 }, (_, i) => det('truck', [10 + i * 110, 900, 60 + i * 110, 950]))
    const t = zoneStats(lane, trucks, frame, 0.5, OCC, PCU)
    expect(t.pcu).toBe(10)
    expect(t.congestion).toBe(3)
    // One car covering the whole zone: occupancy 1, level 3 by occupancy.
    const big = zoneStats(lane, [det('car', [0, 500, 500, 999])], frame, 0.5, OCC, PCU)
    expect(big.occupancy).toBeGreaterThan(0.95)
    expect(big.congestion).toBe(3)
    // Half the zone covered: occupancy ~0.5.
    const half = zoneStats(lane, [det('car', [0, 750, 500, 999])], frame, 0.5, OCC, PCU)
    expect(half.occupancy).toBeCloseTo(0.5, 1)
  })
})

describe('NMS', () => {
  it('is class-agnostic and drops a tile fragment inside a kept box', () => {
    const whole = det('car', [100, 100, 300, 200], 0.9)
    const sameAsTruck = det('truck', [105, 102, 302, 198], 0.8)
    const fragment = det('car', [100, 100, 170, 200], 0.6) // IoU 0.35, but 100% inside `whole`
    const other = det('car', [400, 100, 500, 200], 0.7)
    expect(nms([fragment, whole, sameAsTruck, other], 0.45)).toEqual([whole, other, fragment])
    expect(nms([fragment, whole, sameAsTruck, other], 0.45, 0.7)).toEqual([whole, other])
  })
})

describe('frame checks', () => {
  it('classifies bytes and capture times', () => {
    // SOI, APP0 (no payload), SOF0 of 32x16 pixels, EOI, padding.
    const sof = (w: number, h: number) => [0xff, 0xc0, 0, 11, 8, h >> 8, h & 255, w >> 8, w & 255, 1, 1, 0x11, 0]
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 2, ...sof(32, 16), 0xff, 0xd9, 0, 0])
    expect(checkFrameBytes(jpeg, 100)).toBeNull()
    expect(checkFrameBytes(jpeg, 100, 512)).toBeNull()
    expect(checkFrameBytes(jpeg, 100, 511)).toBe('too_many_pixels')
    // The header is read from the markers, fill bytes included, never from a decode.
    const bomb = Buffer.from([0xff, 0xd8, 0xff, 0xff, ...sof(16383, 16383), 0xff, 0xd9])
    expect(checkFrameBytes(bomb, 100, 3840 * 2160)).toBe('too_many_pixels')
    // No frame header before the scan, or a height deferred to a DNL marker: not decoded.
    expect(checkFrameBytes(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 2, 0xff, 0xd9]), 100)).toBe('undecodable')
    expect(checkFrameBytes(Buffer.from([0xff, 0xd8, ...sof(32, 0), 0xff, 0xd9]), 100)).toBe('undecodable')
    expect(checkFrameBytes(jpeg, 5)).toBe('too_large')
    expect(checkFrameBytes(Buffer.alloc(0), 100)).toBe('empty')
    expect(checkFrameBytes(Buffer.from('\x89PNG\r\n\x1a\n'), 100)).toBe('not_jpeg')
    expect(checkFrameBytes(jpeg.subarray(0, 6), 100)).toBe('truncated')
    expect(captureTime('frames', 5)).toBe(5)
    expect(captureTime('frames/1700000000000', 1700000000500)).toBe(1700000000000)
    expect(captureTime('frames/abc', 5)).toBe('bad_timestamp')
    expect(captureTime('frames/1/2', 5)).toBe('bad_timestamp')
    expect(captureTime(`frames/${2 * 86_400_000}`, 0)).toBe('bad_timestamp')
  })
})
