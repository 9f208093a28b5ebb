import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { camera, publish, sample, useVision, visionConfig } from './support.ts'
import { LEFT_HALF, LOWER_HALF, RIGHT_HALF, WHOLE_FRAME } from '../support/zones.ts'

const cam = camera('cam-frames-01')
const v = useVision(
  visionConfig({
    workers: 2,
    flood: { everyMs: 0 },
    cameras: {
      'cam-frames-01': {
        zones: [
          {
            id: 'left',
            kind: 'count',
            direction: 'inbound',
            polygon: LEFT_HALF,
          },
          {
            id: 'right',
            kind: 'count',
            direction: 'outbound',
            polygon: RIGHT_HALF,
          },
          {
            id: 'street',
            kind: 'flood',
            polygon: LOWER_HALF,
          },
        ],
      },
    },
  }),
)

describe('frames handler', () => {
  it('refuses bad frames, counts each by reason, and no worker dies', async () => {
    const good = sample('coco_000000001532.jpg')
    const png = await sharp(good).png().toBuffer()
    const truncated = good.subarray(0, Math.floor(good.length / 2))
    const big = Buffer.concat([good, Buffer.alloc(3 * 1024 * 1024 - good.length, 0)])
    // Right markers, but not a decodable JPEG inside: only the decoder can refuse it.
    const garbage = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(5000, 0x55), Buffer.from([0xff, 0xd9])])
    const h = v.vision.frames
    await h(publish(cam, truncated))
    await h(publish(cam, png))
    await h(publish(cam, big))
    await h(publish(cam, Buffer.alloc(0)))
    await h(publish(cam, good, 'frames/not-a-time'))
    await h(publish(camera('gauge-01', { kind: 'water_level' }), good))
    await h(publish(cam, garbage))
    await v.vision.pipeline.settled()
    expect(await v.counter('vision_frames_rejected_total', { reason: 'truncated' })).toBe(1)
    expect(await v.counter('vision_frames_rejected_total', { reason: 'not_jpeg' })).toBe(1)
    expect(await v.counter('vision_frames_rejected_total', { reason: 'too_large' })).toBe(1)
    expect(await v.counter('vision_frames_rejected_total', { reason: 'empty' })).toBe(1)
    expect(await v.counter('vision_frames_rejected_total', { reason: 'bad_timestamp' })).toBe(1)
    expect(await v.counter('vision_frames_rejected_total', { reason: 'not_camera' })).toBe(1)
    expect(await v.counter('vision_frames_rejected_total', { reason: 'undecodable' })).toBe(1)
    expect(v.points).toEqual([])

    // A truncated JPEG that still ends in FF D9 gets past the marker check: the decoder refuses it.
    const cutWithEoi = Buffer.concat([good.subarray(0, 60_000), Buffer.from([0xff, 0xd9])])
    await h(publish(cam, cutWithEoi))
    await v.vision.pipeline.settled()
    expect(await v.counter('vision_frames_rejected_total', { reason: 'undecodable' })).toBe(2)

    // Both workers are still there and a good frame is analysed afterwards.
    expect(v.vision.pool.threadCount).toBe(2)
    await h(publish(cam, good, 'frames/1700000000000'))
    await v.vision.pipeline.settled()
    expect(await v.counter('vision_frames_total', { outcome: 'analysed' })).toBe(1)
    const stored = v.points.filter((p) => p.ts === 1700000000000)
    expect(stored.map((p) => p.zone).sort()).toEqual(['left', 'right', 'street'])
    // 1532: four cars and a truck at >= 0.5; the ground points split them over the two halves.
    const left = stored.find((p) => p.zone === 'left')!.fields
    const right = stored.find((p) => p.zone === 'right')!.fields
    expect((left.car ?? 0) + (right.car ?? 0)).toBe(4)
    expect((left.truck ?? 0) + (right.truck ?? 0)).toBe(1)
    expect(stored.find((p) => p.zone === 'street')!.fields.water_ratio).toBe(0)
    expect(stored[0]).toMatchObject({ camera: 'cam-frames-01', station: 'kim-long', district: 'Huế' })
    expect(v.events.filter((e) => e.ts === 1700000000000)).toHaveLength(3)
    expect(v.events[0]).toMatchObject({ camera: 'cam-frames-01', zone: 'left', ts: 1700000000000 })
  })

  it('skips a frame that barely differs from the last analysed one, until the max skip interval', async () => {
    const good = sample('coco_000000001532.jpg')
    const before = await v.counter('vision_frames_total', { outcome: 'analysed' })
    await v.vision.frames(publish(cam, good, 'frames/1700000001000'))
    await v.vision.pipeline.settled()
    expect(await v.counter('vision_frames_total', { outcome: 'skipped_motion' })).toBe(1)
    // 31 s later (max skip 30 s): analysed even without motion.
    await v.vision.frames(publish(cam, good, 'frames/1700000031000'))
    await v.vision.pipeline.settled()
    expect(await v.counter('vision_frames_total', { outcome: 'analysed' })).toBe(before + 1)
    // A different view is analysed at once.
    await v.vision.frames(publish(cam, sample('flood_lagos_2019.jpg'), 'frames/1700000032000'))
    await v.vision.pipeline.settled()
    expect(await v.counter('vision_frames_total', { outcome: 'analysed' })).toBe(before + 2)
    const flood = v.points.find((p) => p.ts === 1700000032000 && p.zone === 'street')!
    expect(flood.fields.water_ratio).toBeCloseTo(0.2355, 2)
  })

  it('keeps one waiting frame per camera: the newest wins and the others are counted as dropped', async () => {
    const frames = [
      'coco_000000001584.jpg',
      'coco_000000007816.jpg',
      'culane_lane00000.jpg',
      'flood_lagos_2019.jpg',
      'coco_000000001532.jpg',
    ]
    const dropped0 = await v.counter('vision_frames_total', { outcome: 'dropped_newer' })
    const t = 1700000100000
    for (let i = 0; i < frames.length; i++) await v.vision.frames(publish(cam, sample(frames[i]!), `frames/${t + i * 1000}`))
    await v.vision.pipeline.settled()
    // The first goes in flight at once, the last is kept, the three between are dropped.
    expect((await v.counter('vision_frames_total', { outcome: 'dropped_newer' })) - dropped0).toBe(3)
    const analysedTs = [...new Set(v.points.filter((p) => p.ts >= t).map((p) => p.ts))]
    expect(analysedTs).toEqual([t, t + 4000])
  })

  it('serves detection records and a drawn snapshot', async () => {
    const page = await v.vision.detections('cam-frames-01', 1700000000000, 1700000200000, 100)
    expect(page.items.length).toBeGreaterThanOrEqual(4)
    const rec = page.items.find((r) => r.ts === new Date(1700000000000).toISOString())!
    expect(rec.counts).toEqual({ car: 4, motorcycle: 0, bus: 0, truck: 1, bicycle: 0 })
    expect(rec.objects.find((o) => o.class === 'truck')!.box).toEqual([105, 373, 186, 437])
    const snap = await v.vision.snapshot('cam-frames-01')
    expect(snap).not.toBeNull()
    const meta = await sharp(snap!).metadata()
    expect(meta.format).toBe('jpeg')
    expect(await v.vision.snapshot('no-such-cam')).toBeNull()
  })

  it('uses a configuration set while running from the next frame: zone masks rebuilt, same zone id', async () => {
    // The flood zone keeps its id but now covers the whole frame (0.136 of it is water, docs/vision.md).
    v.vision.setCameraConfig('cam-frames-01', {
      zones: [
        {
          id: 'street',
          kind: 'flood',
          polygon: WHOLE_FRAME,
        },
      ],
    })
    const passes0 = await v.counter('vision_detector_passes_total', {})
    await v.vision.frames(publish(cam, sample('flood_lagos_2019.jpg'), 'frames/1700000300000'))
    await v.vision.pipeline.settled()
    // 1280x853 is over twice the model's 416 px: tiled by default, 12 tiles and the whole frame.
    expect((await v.counter('vision_detector_passes_total', {})) - passes0).toBe(13)
    const at = v.points.filter((p) => p.ts === 1700000300000)
    // Only a flood zone now: the counting zones are gone from the points too.
    expect(at.map((p) => p.zone)).toEqual(['street'])
    expect(at.find((p) => p.zone === 'street')!.fields.water_ratio).toBeCloseTo(0.136, 2)
  })
})
