import type { ChildProcess } from 'node:child_process'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCameraAgent, type CameraAgent } from '../../edge/camera/index.ts'
import { JpegSplitter, qscale } from '../../edge/camera/capture.ts'
import { freePort, requireCommand, waitFor } from '../support/services.ts'
import { PYTHON, quietLogger, startBroker, startRtspServer, stopProcess, watch, type Seen } from './support.ts'

// Capture from a real RTSP server (GStreamer's, run by the test) with real ffmpeg, published over
// a real MQTT broker; the server is killed and restarted mid-run.

const can = requireCommand('ffmpeg') && requireCommand(PYTHON) && requireCommand('gst-launch-1.0')

describe('JPEG stream splitting', () => {
  it('cuts an MJPEG byte stream into whole JPEGs whatever the chunking', () => {
    const a = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 0xff, 0x00, 3, 0xff, 0xd9])
    const b = Buffer.from([0xff, 0xd8, 0xff, 0xdb, 9, 9, 0xff, 0xd9])
    const all = Buffer.concat([a, b, a])
    for (const step of [1, 3, 7, all.length]) {
      const s = new JpegSplitter()
      const out: Buffer[] = []
      for (let i = 0; i < all.length; i += step) out.push(...s.push(all.subarray(i, i + step)))
      expect(out).toEqual([a, b, a])
    }
    expect([qscale(100), qscale(1), qscale(80)]).toEqual([2, 31, 8])
  })
})

describe.skipIf(!can)('RTSP capture with ffmpeg from a GStreamer RTSP server', () => {
  let rtsp: ChildProcess | undefined
  let broker: Awaited<ReturnType<typeof startBroker>>
  let agent: CameraAgent
  let seen: Seen
  let port: number
  const log = quietLogger()

  beforeAll(async () => {
    port = await freePort()
    rtsp = await startRtspServer(port)
    broker = await startBroker()
    seen = await watch(broker.url, 'cam-rtsp-01')
    agent = await startCameraAgent({
      deviceId: 'cam-rtsp-01',
      password: 'not-checked-here',
      mqttUrl: broker.url,
      logger: log.logger,
      driver: {
        type: 'camera',
        rtsp_url: `rtsp://127.0.0.1:${port}/cam`,
        interval_s: 1,
        max_width: 320,
        jpeg_quality: 70,
        qos: 1,
        backoff_initial_ms: 200,
        backoff_max_ms: 1000,
        stall_timeout_s: 4,
      },
    })
  })
  afterAll(async () => {
    await agent?.stop()
    await seen?.client.endAsync()
    await broker?.close()
    await stopProcess(rtsp)
  })

  it('publishes one scaled JPEG per interval with its capture time, and says online', async () => {
    await waitFor(() => seen.frames.length >= 5, 30_000)
    const f = seen.frames.slice(0, 5)
    for (const x of f) {
      const meta = await sharp(x.jpeg).metadata()
      expect(meta.format).toBe('jpeg')
      expect([meta.width, meta.height]).toEqual([320, 240])
      expect(Math.abs(x.at - x.ts)).toBeLessThan(5000)
    }
    // One frame a second: the capture times of consecutive frames are about 1 s apart. Judged on
    // the median gap (decoder start-up can bunch the first two).
    const gaps = f
      .slice(1)
      .map((x, i) => x.ts - f[i]!.ts)
      .sort((a, b) => a - b)
    const median = gaps[Math.floor(gaps.length / 2)]!
    expect(median).toBeGreaterThan(500)
    expect(median).toBeLessThan(1600)
    expect(seen.statuses.at(-1)?.online).toBe(true)
  })

  it('goes offline when the stream is killed and back online with frames when it returns', async () => {
    await stopProcess(rtsp, 'SIGKILL')
    const killedAt = Date.now()
    await waitFor(() => seen.statuses.some((s) => s.at >= killedAt && s.online === false), 30_000)
    const off = seen.statuses.find((s) => s.at >= killedAt && !s.online)!
    expect(off.error).toBeTruthy()
    expect(agent.stats().cameraOnline).toBe(false)

    rtsp = await startRtspServer(port)
    const restartedAt = Date.now()
    await waitFor(() => seen.statuses.some((s) => s.at >= restartedAt && s.online), 30_000)
    await waitFor(() => seen.frames.filter((x) => x.at >= restartedAt).length >= 3, 30_000)
    expect(agent.stats().cameraOnline).toBe(true)
    expect(agent.stats().captureErrors).toBeGreaterThanOrEqual(1)
    // The camera password never reaches a log line (none here, but the URL must appear redacted or not at all).
    expect(log.lines.join('')).not.toContain('not-checked-here')
  })
})

describe.skipIf(!can)('capture width (driver.max_width, docs/vision.md "Capture width")', () => {
  let rtsp: Awaited<ReturnType<typeof startRtspServer>> | undefined
  let broker: Awaited<ReturnType<typeof startBroker>>
  const agents: CameraAgent[] = []
  const seen: Seen[] = []
  const ids = ['cam-832', 'cam-1920'] as const

  /** What each agent and the RTSP server saw, for a stream that never came. */
  const diagnostics = () =>
    [
      ...agents.map((a, i) => {
        const last = seen[i]!.statuses.at(-1)
        return `${ids[i]}: ${seen[i]!.frames.length} frames, ${JSON.stringify(a.stats())}, last status ${JSON.stringify(last ?? null)}`
      }),
      `rtsp-server.py: ${rtsp?.output().slice(-2000) ?? '(not started)'}`,
    ].join('; ')

  beforeAll(async () => {
    const port = await freePort()
    // A 1280x720 camera stream, two agents on it: one sending at the width where the gateway
    // analyses a frame in one pass, one asking for more than the camera gives.
    rtsp = await startRtspServer(port, '1280x720')
    broker = await startBroker()
    for (const [i, width] of [832, 1920].entries()) {
      const id = ids[i]!
      seen.push(await watch(broker.url, id))
      agents.push(
        await startCameraAgent({
          deviceId: id,
          password: 'not-checked-here',
          mqttUrl: broker.url,
          logger: quietLogger().logger,
          driver: {
            type: 'camera',
            rtsp_url: `rtsp://127.0.0.1:${port}/cam`,
            interval_s: 1,
            max_width: width,
            jpeg_quality: 80,
            qos: 1,
            backoff_initial_ms: 200,
            backoff_max_ms: 1000,
            stall_timeout_s: 8,
          },
        }),
      )
      // One agent at a time: the server's shared stream is set up by the first, and two sessions
      // opening it at the same moment on a loaded machine have left both without frames.
      await waitFor(() => seen[i]!.frames.length >= 1, 45_000).catch((err: unknown) => {
        throw new Error(`${String(err)}; ${diagnostics()}`)
      })
    }
  }, 120_000)
  afterAll(async () => {
    for (const a of agents) await a.stop()
    for (const s of seen) await s.client.endAsync()
    await broker?.close()
    await stopProcess(rtsp)
  })

  it('scales frames to max_width in ffmpeg (aspect kept, even height) and never enlarges them', async () => {
    // Within the test's own timeout, so that a stream that stopped says what each agent saw.
    await waitFor(() => seen.every((s) => s.frames.length >= 2), 30_000).catch((err: unknown) => {
      throw new Error(`${String(err)}; ${diagnostics()}`)
    })
    const sizes = await Promise.all(
      seen.map(async (s) => {
        const m = await sharp(s.frames[1]!.jpeg).metadata()
        return [m.width, m.height]
      }),
    )
    expect(sizes).toEqual([
      [832, 468],
      [1280, 720],
    ])
  }, 90_000)
})

describe('camera driver config', () => {
  it('applies defaults and names the key that is wrong', async () => {
    const { parseCameraDriver } = await import('../../edge/camera/index.ts')
    expect(parseCameraDriver({ type: 'camera', rtsp_url: 'rtsp://10.0.0.5/stream1' })).toMatchObject({
      interval_s: 5,
      max_width: 1280,
      jpeg_quality: 80,
      qos: 0,
    })
    expect(() => parseCameraDriver({ type: 'camera', rtsp_url: 'rtsp://x/y', fps: 3 })).toThrow('driver.fps is not a known key')
    expect(() => parseCameraDriver({ type: 'camera', rtsp_url: 'rtsp://x/y', jpeg_quality: 0 })).toThrow(/^driver\.jpeg_quality /)
    expect(() => parseCameraDriver({ type: 'camera' })).toThrow('exactly one of rtsp_url, snapshot_url, onvif')
    expect(() => parseCameraDriver({ type: 'camera', rtsp_url: 'rtsp://x/y', snapshot_url: 'http://x/s.jpg' })).toThrow('exactly one')
  })
})
