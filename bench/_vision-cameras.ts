// Cameras per node (`npm run bench -- vision --only cameras`): how many cameras sending one frame
// every 5 s one node analyses, on a street camera's sequence (test/vision/street-sequence.ts: a
// static view with parked vehicles, a few moving ones, sensor noise and drift) through the whole
// pipeline with the default vision configuration (motion gate on, 2 workers x 1 thread). First a
// capacity figure from closed loops, against the same with motion gating off; then a paced check
// with that many cameras in real time. bench/README.md, "vision".
import { AsyncLocalStorage } from 'node:async_hooks'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import Value from 'typebox/value'
import { createLogger } from '../gateway/log/logger.ts'
import { Metrics } from '../gateway/metrics/registry.ts'
import type { Device } from '../gateway/registry/types.ts'
import { SqliteTimeSeriesStore } from '../gateway/store/index.ts'
import { VisionSection, type VisionConfig } from '../gateway/vision/config.ts'
import { createVision, storeSink } from '../gateway/vision/index.ts'
import { INBOUND_OUTBOUND } from '../test/support/zones.ts'
import { streetSequence, type StreetFrame } from '../test/vision/street-sequence.ts'
import { arg, pct, positiveArg } from './_args.ts'
import { CpuSampler } from './_cpu.ts'
import { metricValue } from '../test/support/metrics.ts'

/** One frame every this many ms per camera, in capture time and (paced check) in wall time. */
const PERIOD_MS = 5000
/** Frames after which a camera's next frame is forced through the gate (vision.motion.maxSkipMs / PERIOD_MS). */
const FORCED_EVERY = 6
/** Outcomes of vision_frames_total that end a frame (dropped_newer ends the one it replaces). */
const FINAL = new Set(['analysed', 'skipped_motion', 'failed', 'rejected', 'lease_lost'])

export function device(id: string): Device {
  const now = new Date().toISOString()
  return {
    id,
    kind: 'camera',
    name: id,
    station: 'bench',
    district: null,
    location: null,
    tags: [],
    state: 'active',
    created_at: now,
    updated_at: now,
  }
}

interface Outcomes {
  analysed: number
  skipped: number
  dropped: number
  failed: number
  passes: number
}

/**
 * A pipeline as bench/vision.ts opens it (frames handler, SQLite store sink, zones
 * INBOUND_OUTBOUND) with the default vision configuration, 2 workers x 1 thread; `motion` false
 * turns the gate off. Tells when each camera's frame is decided (counted in vision_frames_total:
 * the pipeline counts it in the async context of the camera's publish) and how long each stored
 * frame took from its publish to the end of its store write.
 */
async function openStreet(cameras: string[], motion: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'iocgw-bench-cameras-'))
  const metrics = new Metrics({ defaults: false })
  const logger = createLogger('warn')
  const store = new SqliteTimeSeriesStore({ dataDir: dir, logger, metrics })
  const config = Value.Default(VisionSection, {
    workers: 2,
    threadsPerWorker: 1,
    ...(motion ? {} : { motion: { enabled: false } }),
    cameras: Object.fromEntries(cameras.map((c) => [c, { zones: INBOUND_OUTBOUND }])),
  }) as VisionConfig
  const publishedAt = new Map<string, number>()
  const storedMs: number[] = []
  const sink = storeSink(store)
  const vision = createVision({
    sink: async (points) => {
      await sink(points)
      const key = points[0] && `${points[0].camera}/${points[0].ts}`
      const t = key ? publishedAt.get(key) : undefined
      if (key && t !== undefined) {
        storedMs.push(performance.now() - t)
        publishedAt.delete(key)
      }
    },
    logger,
    metrics,
    config,
    dataDir: dir,
  })
  await vision.whenReady()
  const camera = new AsyncLocalStorage<string>()
  const waiters = new Map<string, (outcome: string) => void>()
  const frames = metrics.counter<'outcome'>('vision_frames_total', '', ['outcome'])
  const inc = frames.inc.bind(frames) as (labels: { outcome: string }, n?: number) => void
  frames.inc = ((labels: { outcome: string }, n?: number) => {
    inc(labels, n)
    const cam = camera.getStore()
    const w = cam === undefined ? undefined : waiters.get(cam)
    if (w && FINAL.has(labels.outcome)) {
      waiters.delete(cam!)
      w(labels.outcome)
    }
  }) as typeof frames.inc
  const value = (name: string, labels: Record<string, string> = {}) => metricValue(metrics, name, labels)
  const publish = (cam: string, jpeg: Buffer, ts: number): void => {
    publishedAt.set(`${cam}/${ts}`, performance.now())
    camera.run(cam, () => {
      void vision.frames({
        device: device(cam),
        topic: `devices/${cam}/frames/${ts}`,
        subtopic: `frames/${ts}`,
        payload: jpeg,
        qos: 0,
        retain: false,
        receivedAt: Date.now(),
      })
    })
  }
  return {
    storedMs,
    publish,
    /** Publishes and resolves with the frame's outcome once it is decided. */
    send(cam: string, jpeg: Buffer, ts: number): Promise<string> {
      const done = new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no outcome for ${cam}'s frame ${ts} in 120 s`)), 120_000)
        waiters.set(cam, (o) => {
          clearTimeout(timer)
          resolve(o)
        })
      })
      publish(cam, jpeg, ts)
      return done
    },
    async outcomes(): Promise<Outcomes> {
      return {
        analysed: await value('vision_frames_total', { outcome: 'analysed' }),
        skipped: await value('vision_frames_total', { outcome: 'skipped_motion' }),
        dropped: await value('vision_frames_total', { outcome: 'dropped_newer' }),
        failed: (await value('vision_frames_total', { outcome: 'failed' })) + (await value('vision_frames_total', { outcome: 'rejected' })),
        passes: await value('vision_detector_passes_total'),
      }
    },
    settled: () => vision.pipeline.settled(),
    async close() {
      await vision.close()
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

const minus = (a: Outcomes, b: Outcomes): Outcomes => ({
  analysed: a.analysed - b.analysed,
  skipped: a.skipped - b.skipped,
  dropped: a.dropped - b.dropped,
  failed: a.failed - b.failed,
  passes: a.passes - b.passes,
})
const plus = (a: Outcomes, b: Outcomes): Outcomes => ({
  analysed: a.analysed + b.analysed,
  skipped: a.skipped + b.skipped,
  dropped: a.dropped + b.dropped,
  failed: a.failed + b.failed,
  passes: a.passes + b.passes,
})
const NONE: Outcomes = { analysed: 0, skipped: 0, dropped: 0, failed: 0, passes: 0 }

interface Run {
  frames: number
  s: number
  cpuMs: number
  /** Core-seconds busy on the whole machine (this process and any other). */
  machineCoreS: number
  o: Outcomes
}

/**
 * `k` cameras in closed loops over their own copy of the sequence (camera i from frame 5i), each
 * frame's capture time 5 s after its camera's previous one: `step(n)` sends n frames per camera.
 */
async function closedLoops(seq: StreetFrame[], k: number, motion: boolean, sampler: CpuSampler) {
  const cams = Array.from({ length: k }, (_, i) => `street-cam-${i}`)
  const p = await openStreet(cams, motion)
  const sent = cams.map(() => 0)
  const base = Date.now() - 86_400_000
  return {
    async step(n: number): Promise<Run> {
      const o0 = await p.outcomes()
      const c0 = process.cpuUsage()
      const w0 = Date.now()
      const t0 = performance.now()
      await Promise.all(
        cams.map(async (cam, i) => {
          for (let j = 0; j < n; j++, sent[i]!++) await p.send(cam, seq[(5 * i + sent[i]!) % seq.length]!.jpeg, base + sent[i]! * PERIOD_MS)
        }),
      )
      const s = (performance.now() - t0) / 1000
      const c = process.cpuUsage(c0)
      const machineCoreS = sampler.window(w0, Date.now()).machineBusy * s
      return { frames: n * k, s, cpuMs: (c.user + c.system) / 1000, machineCoreS, o: minus(await p.outcomes(), o0) }
    },
    close: () => p.close(),
  }
}

/**
 * `n` cameras each sending one frame every 5 s of wall time for `seconds` (camera j from 5j/n s
 * on). Before it each camera sends, untimed, the frame before its first one with a capture time
 * 5-30 s earlier, spread over the cameras: the gate's forced analyses (every 30 s of capture time)
 * are then spread as for cameras that did not all start at once, not all due in the same 5 s.
 */
async function paced(seq: StreetFrame[], n: number, seconds: number, sampler: CpuSampler) {
  const cams = Array.from({ length: n }, (_, j) => `paced-cam-${j}`)
  const p = await openStreet(cams, true)
  const offset = (j: number) => Math.round((j * PERIOD_MS) / n)
  const frame = (j: number, k: number) => seq[(((5 * j + k) % seq.length) + seq.length) % seq.length]!.jpeg
  const epoch = Date.now() - 3_600_000 // capture time = epoch + wall ms since the paced start
  await Promise.all(cams.map((cam, j) => p.send(cam, frame(j, -1), epoch + offset(j) - PERIOD_MS * (1 + (j % FORCED_EVERY)))))
  await p.settled()
  p.storedMs.length = 0
  const o0 = await p.outcomes()
  const c0 = process.cpuUsage()
  const w0 = Date.now()
  const t0 = performance.now()
  const end = t0 + seconds * 1000
  let sent = 0
  await Promise.all(
    cams.map(
      (cam, j) =>
        new Promise<void>((resolve) => {
          let k = 0
          const next = () => {
            const due = t0 + offset(j) + k * PERIOD_MS
            if (due >= end) return resolve()
            setTimeout(
              () => {
                p.publish(cam, frame(j, k), epoch + Math.round(performance.now() - t0))
                sent++
                k++
                next()
              },
              Math.max(0, due - performance.now()),
            )
          }
          next()
        }),
    ),
  )
  const tLast = performance.now()
  const cpu = process.cpuUsage(c0)
  const busyCores = (cpu.user + cpu.system) / 1000 / (tLast - t0)
  const machineCores = sampler.window(w0, Date.now()).machineBusy
  await p.settled()
  const drainS = (performance.now() - tLast) / 1000
  const o = minus(await p.outcomes(), o0)
  const stored = [...p.storedMs]
  await p.close()
  return { sent, o, stored, drainS, busyCores, machineCores, s: (tLast - t0) / 1000 }
}

const f1 = (x: number) => x.toFixed(1)
const pctOf = (x: number, of: number) => `${of ? ((x / of) * 100).toFixed(0) : '-'}%`

export async function camerasPerNode(args: string[]): Promise<void> {
  const k = positiveArg(args, 'cameras', 8, true)
  const seqFrames = positiveArg(args, 'sequence', 40, true)
  const passes = positiveArg(args, 'passes', 3, true)
  const peerFrames = positiveArg(args, 'peer-frames', 5, true)
  const pacedS = arg(args, 'paced-s', 45)
  const pacedMax = positiveArg(args, 'paced-max', 150, true)
  // A fixed number of paced cameras (say 100, the goal) instead of the capacity figure.
  const pacedN = args.includes('--paced-n') ? positiveArg(args, 'paced-n', 1, true) : undefined
  if (!Number.isFinite(pacedS) || pacedS < 0) throw new Error('--paced-s needs a number of seconds (0: no paced check)')
  const cores = availableParallelism()
  console.log(
    `\ncameras per node: a street camera's sequence (test/vision/street-sequence.ts, ${seqFrames} frames: the mosaic with 0-3 moving vehicles a frame, ` +
      `noise, drift, JPEG q80), one frame per 5 s of capture time; default vision configuration (motion gate on), 2 workers x 1 thread, SQLite store.`,
  )
  console.log(
    `capacity: ${k} cameras in closed loops (camera i from frame 5i), ${passes} passes of the sequence after a warm-up pass; ` +
      `peer: motion gate off, ${peerFrames} frames a camera after each pass. cameras = fps x 5 (wall), ${cores} cores x 1000 / cpu ms x 5 (cpu)`,
  )
  console.log('cores busy: this process / the whole machine (others share it), over the measured frames')
  console.log('frame      motion  frames     fps   cpu ms  analysed  skipped  passes/frame  cameras (wall)  cameras (cpu)  cores busy')
  const sampler = new CpuSampler()
  const sizes: Array<[number, number]> = [
    [1920, 1080],
    [1280, 720],
  ]
  const capacity: Array<{ size: string; seq: StreetFrame[]; cameras: number }> = []
  for (const [w, h] of sizes) {
    const seq = await streetSequence({ width: w, height: h, frames: seqFrames })
    const on = await closedLoops(seq, k, true, sampler)
    const off = await closedLoops(seq, k, false, sampler)
    await on.step(seqFrames)
    await off.step(1)
    let a: Run = { frames: 0, s: 0, cpuMs: 0, machineCoreS: 0, o: NONE }
    let b: Run = { frames: 0, s: 0, cpuMs: 0, machineCoreS: 0, o: NONE }
    const add = (x: Run, y: Run): Run => ({
      frames: x.frames + y.frames,
      s: x.s + y.s,
      cpuMs: x.cpuMs + y.cpuMs,
      machineCoreS: x.machineCoreS + y.machineCoreS,
      o: plus(x.o, y.o),
    })
    // Alternating, so that both see the same background load on a shared machine.
    for (let r = 0; r < passes; r++) {
      a = add(a, await on.step(seqFrames))
      b = add(b, await off.step(peerFrames))
    }
    await on.close()
    await off.close()
    const size = `${w}x${h}`
    const line = (motion: string, x: Run) => {
      const fps = x.frames / x.s
      const cpu = x.cpuMs / x.frames
      console.log(
        `${size.padEnd(10)} ${motion.padEnd(6)} ${String(x.frames).padStart(7)} ${fps.toFixed(2).padStart(7)} ${cpu.toFixed(0).padStart(8)} ` +
          `${pctOf(x.o.analysed, x.frames).padStart(9)} ${pctOf(x.o.skipped, x.frames).padStart(8)} ${(x.o.passes / x.frames).toFixed(1).padStart(13)} ` +
          `${(fps * 5).toFixed(0).padStart(15)} ${((cores * 1000 * 5) / cpu).toFixed(0).padStart(14)} ${`${f1(x.cpuMs / 1000 / x.s)} / ${f1(x.machineCoreS / x.s)}`.padStart(11)}` +
          (x.o.failed || x.o.dropped ? `  (failed ${x.o.failed}, dropped ${x.o.dropped})` : ''),
      )
      return fps * 5
    }
    const cams = line('on', a)
    line('off', b)
    console.log(
      `${' '.repeat(18)}gate on / off: fps x${f1(a.frames / a.s / (b.frames / b.s))}, cpu per frame x${f1(b.cpuMs / b.frames / (a.cpuMs / a.frames))} less`,
    )
    capacity.push({ size, seq, cameras: cams })
  }
  for (const c of pacedS > 0 ? capacity : []) {
    const n = pacedN ?? Math.min(pacedMax, Math.max(1, Math.floor(c.cameras)))
    const r = await paced(c.seq, n, pacedS, sampler)
    console.log(
      `paced ${c.size}: ${n} cameras x 1 frame / 5 s for ${f1(r.s)} s: sent ${r.sent}, analysed ${r.o.analysed}, skipped ${r.o.skipped}, ` +
        `dropped_newer ${r.o.dropped}, failed ${r.o.failed}; publish to stored p50 ${pct(r.stored, 50).toFixed(0)} ms, p99 ${pct(r.stored, 99).toFixed(0)} ms, ` +
        `max ${Math.max(0, ...r.stored).toFixed(0)} ms; cores busy ${f1(r.busyCores)} / ${f1(r.machineCores)}; settled ${f1(r.drainS)} s after the last frame`,
    )
  }
  sampler.stop()
  console.log(
    'goal: at least 100 cameras at one frame per 5 s. paced: decided (analysed + skipped) should be sent, with no dropped_newer and a p99 well under 5 s.',
  )
}
