import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { flatJpeg } from './flat-jpeg.ts'
import { camera, publish, sample, useVision, visionConfig } from './support.ts'

// Decompression bombs (docs/operations.md, Security): a 16383x16383 JPEG fits in the 2 MiB frame
// limit but decodes to ~268 MP. It must be refused from its header, before any decode, and the
// snapshot of the last good frame must be drawn once, not once per request.

const cam = camera('cam-bomb-01')
const v = useVision(visionConfig({ motion: { enabled: false } }))
const bomb = flatJpeg(16383, 16383)

describe('decompression bomb', () => {
  it('is a real JPEG of 16383x16383 under the byte limit', async () => {
    expect(bomb.length).toBeLessThan(2 * 1024 * 1024)
    const meta = await sharp(bomb).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 16383, 16383])
    // The same builder at a small size decodes cleanly (so the bomb is not just a bad header).
    const small = await sharp(flatJpeg(64, 48), { failOn: 'warning' }).greyscale().raw().toBuffer()
    expect(small.every((b) => b === 128)).toBe(true)
  })

  it('is refused from its header, counted, and the snapshot stays the last good frame, drawn once', async () => {
    await v.vision.frames(publish(cam, sample('coco_000000001532.jpg'), 'frames/1700000000000'))
    await v.vision.pipeline.settled()
    expect(await v.counter('vision_frames_total', { outcome: 'analysed' })).toBe(1)

    const first = await v.vision.snapshot('cam-bomb-01')
    const second = await v.vision.snapshot('cam-bomb-01')
    expect(first).not.toBeNull()
    // The same encoded buffer is served again, not a second rendering of the frame.
    expect(second).toBe(first)
    expect(await v.counter('vision_snapshot_renders_total', {})).toBe(1)

    await v.vision.frames(publish(cam, bomb, 'frames/1700000001000'))
    await v.vision.pipeline.settled()
    expect(await v.counter('vision_frames_rejected_total', { reason: 'too_many_pixels' })).toBe(1)
    // Never queued: nothing went to a worker (neither analysed nor refused by the decoder).
    expect(await v.counter('vision_frames_total', { outcome: 'analysed' })).toBe(1)
    expect(await v.counter('vision_frames_rejected_total', { reason: 'undecodable' })).toBe(0)
    expect(v.logs.some((l) => l.includes('too_many_pixels'))).toBe(true)

    const after = await v.vision.snapshot('cam-bomb-01')
    expect(after).toBe(first)
    expect(await v.counter('vision_snapshot_renders_total', {})).toBe(1)
    const meta = await sharp(after!).metadata()
    expect([meta.width, meta.height]).toEqual([640, 480])

    // A newer analysed frame is drawn once more.
    await v.vision.frames(publish(cam, sample('coco_000000001584.jpg'), 'frames/1700000002000'))
    await v.vision.pipeline.settled()
    const next = await v.vision.snapshot('cam-bomb-01')
    expect(next).not.toBe(first)
    expect(await v.counter('vision_snapshot_renders_total', {})).toBe(2)
  })

  it('is refused by the worker too when it gets past the handler (limitInputPixels)', async () => {
    // Straight into the pipeline, as a frame that skipped the header check would arrive.
    v.vision.pipeline.submit({ camera: 'cam-bomb-01', station: null, district: null, ts: 1700000003000, jpeg: bomb })
    await v.vision.pipeline.settled()
    expect(await v.counter('vision_frames_rejected_total', { reason: 'undecodable' })).toBe(1)
    expect(v.logs.some((l) => l.includes('pixel limit'))).toBe(true)
  })
})
