// `npm run bench -- vision [--frames N] [--workers 1,2] [--tiled-frames N] [--only figures|cameras]`
// Frames per second through the whole vision pipeline (JPEG in through the frames handler:
// checks, thumbnail and motion gate, worker decode + letterbox, inference, decode + NMS, zones,
// counts written to the SQLite time-series store) against raw session.run on ready tensors in
// the same run, with 1 and 2 workers; then the same on a wide 1920x1080 frame. Both with the
// default camera configuration (tiling 'auto'): one pass at 640 px, tiles at 1920x1080.
// Then cameras per node on a street camera's sequence, motion gate on (bench/_vision-cameras.ts:
// [--cameras 8] [--sequence 40] [--passes 3] [--peer-frames 5] [--paced-s 45] [--paced-max 150] [--paced-n N]).
import { readFileSync } from 'node:fs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp, { type OverlayOptions } from 'sharp'
import Value from 'typebox/value'
import type { DevicePublish } from '../gateway/broker/types.ts'
import { createLogger } from '../gateway/log/logger.ts'
import { Metrics } from '../gateway/metrics/registry.ts'
import { SqliteTimeSeriesStore } from '../gateway/store/index.ts'
import { VisionSection, type VisionConfig } from '../gateway/vision/config.ts'
import { createVision, storeSink } from '../gateway/vision/index.ts'
import { planRegions } from '../gateway/vision/tiles.ts'
import { VisionPool } from '../gateway/vision/pool.ts'
import { WHOLE_FRAME } from '../gateway/vision/zones.ts'
import { samplePath } from '../models/samples.ts'
import { INBOUND_OUTBOUND } from '../test/support/zones.ts'
import { camerasPerNode, device } from './_vision-cameras.ts'

const NAMES = ['coco_000000001532.jpg', 'coco_000000001584.jpg', 'coco_000000007816.jpg', 'culane_lane00000.jpg', 'flood_lagos_2019.jpg']
const DETECTOR = { type: 'yolox-onnx', model: 'yolox_nano', scoreThreshold: 0.3, nmsIou: 0.45, nmsIos: 0.7 }

function arg(args: string[], name: string, def: string): string {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] ? args[i + 1]! : def
}

/** The samples as a camera sending 640-px frames would (a sub-stream, or the edge driver with `max_width: 640`). */
async function frames640(): Promise<Buffer[]> {
  return Promise.all(
    NAMES.map((n) =>
      sharp(readFileSync(samplePath(n)))
        .resize({ width: 640, withoutEnlargement: true })
        .jpeg({ quality: 85 })
        .toBuffer(),
    ),
  )
}

/** A 1920x1080 view of 16 downscaled sample photos (as test/vision/mosaic.ts). */
async function wideFrame(): Promise<Buffer> {
  const comps: OverlayOptions[] = []
  for (let r = 0; r < 4; r++)
    for (let c = 0; c < 4; c++) {
      const cell = await sharp(readFileSync(samplePath(NAMES[(c + r) % NAMES.length]!)))
        .resize(480, 270, { fit: 'contain', background: { r: 110, g: 110, b: 110 } })
        .removeAlpha()
        .toBuffer()
      comps.push({ input: cell, left: c * 480, top: r * 270 })
    }
  return sharp({ create: { width: 1920, height: 1080, channels: 3, background: { r: 110, g: 110, b: 110 } } })
    .composite(comps)
    .jpeg({ quality: 85 })
    .toBuffer()
}

/** Raw session.run on the worker's ready tensor, two per worker in flight (back to back, as the pipeline's). */
async function openRaw(workers: number) {
  const pool = new VisionPool({ workers, threadsPerWorker: Math.max(1, Math.floor(2 / workers)), detector: DETECTOR, segmenter: null })
  await pool.ready()
  for (let i = 0; i < 5 * workers; i++) await pool.runRaw()
  const times: number[] = []
  return {
    /** Runs n inferences; resolves with the elapsed seconds. */
    async run(n: number): Promise<number> {
      let next = 0
      const t0 = performance.now()
      await Promise.all(
        Array.from({ length: 2 * workers }, async () => {
          while (next++ < n) times.push(await pool.runRaw())
        }),
      )
      return (performance.now() - t0) / 1000
    },
    medianMs: () => [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)] ?? NaN,
    close: () => pool.close(),
  }
}

/**
 * Whole pipeline: `cameras` closed loops, each publishing its next frame as soon as the previous
 * one's counts are stored, so the pool always has work and no frame is dropped.
 */
async function openPipeline(workers: number, images: Buffer[], memorySink: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'iocgw-bench-vision-'))
  const metrics = new Metrics({ defaults: false })
  const logger = createLogger('warn')
  const store = new SqliteTimeSeriesStore({ dataDir: dir, logger, metrics })
  const cameras = Array.from({ length: workers * 2 }, (_, i) => `bench-cam-${i}`)
  const camCfg = Object.fromEntries(
    cameras.map((c) => [
      c,
      {
        zones: INBOUND_OUTBOUND,
      },
    ]),
  )
  const config = Value.Default(VisionSection, {
    workers,
    threadsPerWorker: Math.max(1, Math.floor(2 / workers)),
    motion: { enabled: false },
    cameras: camCfg,
  }) as VisionConfig
  const waiters = new Map<string, () => void>()
  let stored = 0
  const sink = memorySink ? async () => undefined : storeSink(store)
  const vision = createVision({
    sink: async (points) => {
      await sink(points)
      stored += points.length
      const cam = points[0]?.camera
      if (cam) waiters.get(cam)?.()
    },
    logger,
    metrics,
    config,
    dataDir: dir,
  })
  await vision.whenReady()
  let frameNo = 0
  let ts = Date.now() - 3_600_000
  const publish = (cam: string): Promise<void> => {
    const payload = images[frameNo++ % images.length]!
    const done = new Promise<void>((r) => waiters.set(cam, r))
    const msg: DevicePublish = {
      device: device(cam),
      topic: `devices/${cam}/frames/${ts}`,
      subtopic: `frames/${ts++}`,
      payload,
      qos: 0,
      retain: false,
      receivedAt: Date.now(),
    }
    void vision.frames(msg)
    return done
  }
  await Promise.all(cameras.map(publish)) // warm-up
  return {
    stored: () => stored,
    elu: 0,
    async run(n: number): Promise<number> {
      let sent = 0
      const e0 = performance.eventLoopUtilization()
      const t0 = performance.now()
      await Promise.all(
        cameras.map(async (cam) => {
          while (sent++ < n) await publish(cam)
        }),
      )
      this.elu = performance.eventLoopUtilization(e0).utilization
      return (performance.now() - t0) / 1000
    },
    async close() {
      await vision.close()
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * Raw and pipeline alternate in `rounds` chunks so that both see the same background load (other
 * work on a shared 2-core box moves either figure by tens of percent within a minute).
 */
async function compare(workers: number, n: number, images: Buffer[], inferencesPerFrame: number, rounds: number, memorySink: boolean) {
  const raw = await openRaw(workers)
  const pipe = await openPipeline(workers, images, memorySink)
  let rawS = 0
  let pipeS = 0
  let elu = 0
  let rawCpu = 0
  let pipeCpu = 0
  const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000
  const per = Math.max(1, Math.round(n / rounds))
  for (let r = 0; r < rounds; r++) {
    let c0 = process.cpuUsage()
    rawS += await raw.run(per * inferencesPerFrame)
    rawCpu += cpuMs(process.cpuUsage(c0))
    c0 = process.cpuUsage()
    const s = await pipe.run(per)
    pipeCpu += cpuMs(process.cpuUsage(c0))
    pipeS += s
    elu += pipe.elu * s
  }
  const out = {
    rawFps: (per * rounds) / rawS,
    pipeFps: (per * rounds) / pipeS,
    rawMs: raw.medianMs(),
    stored: pipe.stored(),
    elu: elu / pipeS,
    rawCpuMs: rawCpu / (per * rounds),
    pipeCpuMs: pipeCpu / (per * rounds),
  }
  await raw.close()
  await pipe.close()
  return out
}

export async function main(args: string[]): Promise<void> {
  const only = arg(args, 'only', '')
  if (only !== '' && only !== 'figures' && only !== 'cameras') throw new Error('--only needs figures or cameras')
  if (only !== 'cameras') await figures(args)
  if (only !== 'figures') await camerasPerNode(args)
}

/** Pipeline against raw inference: single-pass 640-px frames, the 1920x1080 mosaic and the edge driver's 1280x720. */
async function figures(args: string[]): Promise<void> {
  const n = Number(arg(args, 'frames', '200'))
  const nTiled = Number(arg(args, 'tiled-frames', '12'))
  const workerSet = arg(args, 'workers', '1,2').split(',').map(Number)
  // --sink memory: counts not stored (shows what the store's durable writes cost).
  const memorySink = arg(args, 'sink', 'store') === 'memory'
  const images = await frames640()
  const wide = await wideFrame()
  // What the edge camera driver sends by default (docs/vision.md: max_width 1280): the mosaic at 1280x720.
  const hd = await sharp(wide).resize(1280, 720).jpeg({ quality: 85 }).toBuffer()
  // The default configuration (tiling 'auto'): tiles at 1920x1080 and 1280x720, one pass at 640 px.
  const regions = planRegions({ width: 1920, height: 1080 }, [WHOLE_FRAME], undefined).length
  const regionsHd = planRegions({ width: 1280, height: 720 }, [WHOLE_FRAME], undefined).length
  if (planRegions({ width: 640, height: 480 }, [], undefined).length !== 1)
    throw new Error('the default configuration tiles 640 px frames: the single-pass figures would not be single-pass')
  console.log(`sink: ${memorySink ? 'memory (not stored)' : 'SQLite time-series store (synchronous FULL)'}`)
  console.log(
    `frames: the 5 samples at 640 px wide (JPEG q85), ${n} per run; tiled: 1920x1080 mosaic, ${regions} inferences a frame, ${nTiled} per run; ` +
      `the edge driver's default: the mosaic at 1280x720, ${regionsHd} inferences a frame, ${nTiled} per run`,
  )
  console.log(
    'fps = frames per second (wall); cpu = CPU ms per frame, all threads of the process (steadier than wall time on a loaded machine)',
  )
  console.log(
    'workers  threads  raw fps  raw ms  pipeline fps  overhead  main loop  raw cpu  pipe cpu  cpu overhead | tiled: raw fps*  pipeline fps  overhead  pipe cpu  cpu overhead',
  )
  for (const w of workerSet) {
    const single = await compare(w, n, images, 1, 4, memorySink)
    const tiled = await compare(w, nTiled, [wide], regions, 2, memorySink)
    const over = single.rawFps / single.pipeFps - 1
    const overT = tiled.rawFps / tiled.pipeFps - 1
    console.log(
      `${String(w).padEnd(8)} ${String(Math.max(1, Math.floor(2 / w))).padEnd(8)} ${single.rawFps.toFixed(1).padStart(7)}  ${single.rawMs.toFixed(1).padStart(6)}  ` +
        `${single.pipeFps.toFixed(1).padStart(12)}  ${(over * 100).toFixed(0).padStart(7)}%  ${(single.elu * 100).toFixed(0).padStart(8)}%  ${single.rawCpuMs.toFixed(1).padStart(7)}  ${single.pipeCpuMs.toFixed(1).padStart(8)}  ${((single.pipeCpuMs / single.rawCpuMs - 1) * 100).toFixed(0).padStart(11)}% | ` +
        `${tiled.rawFps.toFixed(2).padStart(14)}  ${tiled.pipeFps.toFixed(2).padStart(12)}  ${(overT * 100).toFixed(0).padStart(7)}%  ${tiled.pipeCpuMs.toFixed(0).padStart(8)}  ${((tiled.pipeCpuMs / tiled.rawCpuMs - 1) * 100).toFixed(0).padStart(11)}%`,
    )
    const edge = await compare(w, nTiled, [hd], regionsHd, 2, memorySink)
    console.log(
      `${' '.repeat(17)}1280x720 (edge default): raw fps* ${edge.rawFps.toFixed(2)}, pipeline fps ${edge.pipeFps.toFixed(2)}, overhead ${((edge.rawFps / edge.pipeFps - 1) * 100).toFixed(0)}%, ` +
        `pipe cpu ${edge.pipeCpuMs.toFixed(0)} ms, cpu overhead ${((edge.pipeCpuMs / edge.rawCpuMs - 1) * 100).toFixed(0)}%`,
    )
    if (single.stored < n * 2) console.log(`  warning: only ${single.stored} detection points stored for ${n} frames`)
  }
  console.log(
    '* raw inferences per second / inferences per tiled frame. Overhead = raw fps / pipeline fps - 1 (goal <= 15 %); goal >= 30 pipeline fps single-pass.',
  )
  console.log('main loop: share of the gateway thread busy during the pipeline run (checks, zones, store writes).')
}
