import { readFile } from 'node:fs/promises'
import type { DetectionEvent, GatewayBus } from '../bus/events.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { CameraSettings, CameraVisionConfig, FloodZone, VisionConfig } from './config.ts'
import type { DetectionLog, DetectionRecord, DetectionSql } from './detection-log.ts'
import type { AnalyseResult } from './engine.ts'
import { waterMask, waterRatio, zoneMask } from './flood.ts'
import type { FrameReject } from './frame-check.ts'
import { UNDECODABLE } from './detectors/types.ts'
import type { MotionGrid } from './motion.ts'
import type { Detection } from './nms.ts'
import type { VisionPool } from './pool.ts'
import { carryObjects } from './tracker.ts'
import { countZones, emptyCounts, VEHICLE_CLASSES, zoneStats, type Counts } from './zones.ts'

/** One point of the `detections` measurement (docs/data-model.md). */
export interface DetectionPoint {
  ts: number
  camera: string
  zone: string
  station: string | null
  district: string | null
  fields: Partial<Counts> & { occupancy?: number; congestion?: number; water_ratio?: number }
}

/** Help of `vision_frames_total`, counted here and by the camera leases (cluster mode). */
export const FRAMES_HELP = 'Camera frames by outcome (analysed, skipped_motion, dropped_newer, rejected, failed, no_holder, lease_lost)'

/** Writes detection points durably (the time-series store); rejects on a transient failure. */
export type DetectionSink = (points: DetectionPoint[]) => Promise<void>

/** The camera lease a frame was accepted under (cluster mode, gateway/vision/camera-leases.ts). */
export interface FrameLease {
  name: string
  token: number
}

export interface Frame {
  camera: string
  station: string | null
  district: string | null
  /** Capture time, epoch ms. */
  ts: number
  jpeg: Buffer
  /** Cluster mode: analysed and stored only while this lease is still the node's. */
  lease?: FrameLease | undefined
}

/** Cluster mode's checks on frames that carry a lease (gateway/vision/camera-leases.ts). */
export interface FrameLeaseGuard {
  /** Whether the lease is still this node's, by its local deadline (before the work starts). */
  held(lease: FrameLease): boolean
  /** Runs the durable writes only if the lease's fencing token is still current (in the transaction `sql`); false when not. */
  fenced(lease: FrameLease, write: (sql: DetectionSql) => Promise<void>): Promise<boolean>
}

export interface Snapshot {
  camera: string
  ts: number
  jpeg: Buffer
  width: number
  height: number
  objects: Detection[]
  config: CameraSettings
}

interface CameraState {
  pending: Frame | null
  busy: boolean
  /** Motion grid of the last analysed frame. */
  lastGrid: MotionGrid | null
  lastAnalysedTs: number
  /** Capture time of the last frame analysed whole (not only where it moved). */
  lastWholeTs: number
  /** Objects of the last analysed frame, carried where the next one does not move (tracker.ts). */
  objects: Detection[]
  lastSegTs: number
  snapshot: Snapshot | null
  dryWater: Uint8Array | null | undefined
  zoneMasks: Map<string, Uint8Array>
  /** Bumped by setCameraConfig: a frame analysed under an older configuration leaves no state behind. */
  configGen: number
}

export interface PipelineDeps {
  pool: VisionPool
  config: VisionConfig
  sink: DetectionSink
  log: DetectionLog
  bus?: GatewayBus | undefined
  logger: Logger
  metrics: Metrics
  /** Water classes of the segmenter (from its manifest). */
  waterClasses: readonly number[]
  /** Per-camera configuration (from the registry); `config.cameras` when not given. */
  cameras?: Record<string, CameraVisionConfig> | undefined
  /** Cluster mode: checks the lease of every frame that carries one. */
  leases?: FrameLeaseGuard | undefined
}

/**
 * Per camera: at most one frame in flight and one waiting; a newer frame replaces the waiting one
 * (counted as dropped), so a slow model sheds load instead of queueing without bound and the
 * counts always describe the newest view.
 */
export class VisionPipeline {
  private readonly cams = new Map<string, CameraState>()
  private readonly cameras: Map<string, CameraVisionConfig>
  private readonly idle = new Set<() => void>()
  private closed = false
  private readonly m
  constructor(private readonly d: PipelineDeps) {
    this.cameras = new Map(Object.entries(d.cameras ?? d.config.cameras))
    const m = d.metrics
    this.m = {
      frames: m.counter('vision_frames_total', FRAMES_HELP, ['outcome']),
      rejected: m.counter('vision_frames_rejected_total', 'Camera frames refused, by reason', ['reason']),
      inference: m.histogram(
        'vision_inference_seconds',
        'Model inference time per frame (session.run, all regions)',
        ['model'],
        [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1, 2],
      ),
      frameTime: m.histogram(
        'vision_frame_seconds',
        'Whole pipeline time per analysed frame (decode to stored)',
        [],
        [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      ),
      depth: m.gauge('vision_queue_depth', 'Camera frames waiting for analysis (at most one per camera)'),
      objects: m.counter('vision_vehicles_counted_total', 'Vehicles counted in zones, by class', ['class']),
      passes: m.counter(
        'vision_detector_passes_total',
        'Detector inferences over analysed frames (1 per frame in one pass, one per tile when tiled)',
      ),
    }
  }

  /** Frames over this many pixels (from the JPEG header) are refused before decoding. */
  get maxFramePixels(): number {
    return this.d.config.maxFramePixels
  }

  cameraConfig(camera: string): CameraSettings {
    const c = this.cameras.get(camera)
    return { ...c, zones: c?.zones ?? [] }
  }

  /**
   * Replaces a camera's configuration while running: the next frame taken from its queue uses
   * it (a frame already in a worker finishes with the old one). What was derived from the old
   * zones and dry reference is dropped, and the motion gate is reset so that the next frame is
   * analysed whole even if the view has not changed.
   */
  setCameraConfig(camera: string, config: CameraVisionConfig): void {
    this.cameras.set(camera, config)
    const st = this.cams.get(camera)
    if (!st) return
    st.configGen++
    st.zoneMasks = new Map()
    st.dryWater = undefined
    st.lastGrid = null
    st.objects = []
    st.lastSegTs = -Infinity
  }

  reject(reason: FrameReject): void {
    this.m.rejected.inc({ reason })
    this.m.frames.inc({ outcome: 'rejected' })
  }

  submit(frame: Frame): void {
    if (this.closed) return
    let st = this.cams.get(frame.camera)
    if (!st) {
      st = {
        pending: null,
        busy: false,
        lastGrid: null,
        lastAnalysedTs: -Infinity,
        lastWholeTs: -Infinity,
        objects: [],
        lastSegTs: -Infinity,
        snapshot: null,
        dryWater: undefined,
        zoneMasks: new Map(),
        configGen: 0,
      }
      this.cams.set(frame.camera, st)
    }
    if (st.pending) this.m.frames.inc({ outcome: 'dropped_newer' })
    else this.m.depth.inc()
    st.pending = frame
    if (!st.busy) {
      st.busy = true
      void this.drain(st)
    }
  }

  /**
   * Drops the frame waiting for `camera` (its lease went to another node, which analyses its
   * frames from now on); a frame in a worker finishes, and its lease check refuses to store it.
   */
  discard(camera: string): void {
    const st = this.cams.get(camera)
    if (!st?.pending) return
    st.pending = null
    this.m.depth.dec()
    this.m.frames.inc({ outcome: 'lease_lost' })
  }

  snapshot(camera: string): Snapshot | null {
    return this.cams.get(camera)?.snapshot ?? null
  }

  /** Resolves when no camera has a frame in flight or waiting (tests, benchmarks, shutdown). */
  async settled(): Promise<void> {
    if ([...this.cams.values()].every((s) => !s.busy)) return
    await new Promise<void>((resolve) => this.idle.add(resolve))
  }

  async close(): Promise<void> {
    this.closed = true
    for (const s of this.cams.values()) {
      if (s.pending) {
        s.pending = null
        this.m.depth.dec()
      }
    }
    await this.settled()
  }

  private async drain(st: CameraState): Promise<void> {
    while (st.pending) {
      const f = st.pending
      st.pending = null
      this.m.depth.dec()
      try {
        await this.process(st, f)
      } catch (err) {
        this.m.frames.inc({ outcome: 'failed' })
        this.d.logger.warn({ camera: f.camera, err }, 'vision: frame analysis failed')
      }
    }
    st.busy = false
    if ([...this.cams.values()].every((s) => !s.busy)) {
      for (const r of this.idle) r()
      this.idle.clear()
    }
  }

  private async process(st: CameraState, f: Frame): Promise<void> {
    if (f.lease && this.d.leases && !this.d.leases.held(f.lease)) {
      this.m.frames.inc({ outcome: 'lease_lost' })
      return
    }
    const t0 = performance.now()
    const cfg = this.d.config
    const cam = this.cameraConfig(f.camera)
    const gen = st.configGen
    const masks = st.zoneMasks
    const floodZones = cam.zones.filter((z): z is FloodZone => z.kind === 'flood')
    const segment = floodZones.length > 0 && f.ts - st.lastSegTs >= cfg.flood.everyMs
    // Motion is judged in the worker (motion.ts); a frame older than the last analysed one, or
    // `maxSkipMs` after the last whole analysis, is analysed whole: nothing skipped, no object carried.
    const force = !st.lastGrid || f.ts - st.lastWholeTs >= cfg.motion.maxSkipMs || f.ts < st.lastAnalysedTs
    let res: AnalyseResult
    try {
      res = await this.d.pool.analyse({
        jpeg: f.jpeg,
        regions: { zones: cam.zones, tiling: cam.tiling },
        segment,
        ...(cfg.motion.enabled ? { motion: { prev: st.lastGrid, threshold: cfg.motion.threshold, force } } : {}),
      })
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err)
      if (msg.startsWith(UNDECODABLE)) {
        // Passed the marker checks but the decoder refuses it (corrupt data, not really a JPEG).
        this.reject('undecodable')
        this.d.logger.info({ camera: f.camera, err }, 'vision: frame refused, JPEG does not decode')
        return
      }
      throw err // a model or runtime failure: counted as failed by drain()
    }
    if (res.skipped) {
      this.m.frames.inc({ outcome: 'skipped_motion' })
      return
    }
    const objects = res.partial ? carryObjects(st.objects, res.objects, res.partial, cfg.detector.nmsIou, cfg.detector.nmsIos) : res.objects
    // A configuration change while this frame was in a worker keeps the gate reset for the next one.
    if (st.configGen === gen) {
      st.lastGrid = res.grid
      st.objects = objects
    }
    st.lastAnalysedTs = f.ts
    if (!res.partial) st.lastWholeTs = f.ts
    this.m.inference.observe({ model: cfg.detector.model }, res.timings.inferMs / 1000)
    this.m.passes.inc(res.regions)

    const points: DetectionPoint[] = []
    const events: DetectionEvent[] = []
    const total = emptyCounts()
    const zones: NonNullable<DetectionRecord['zones']> = []
    for (const zone of countZones(cam.zones)) {
      const s = zoneStats(zone, objects, res, cfg.detector.countThreshold, cfg.congestionOccupancy, cfg.congestionPcu)
      for (const c of VEHICLE_CLASSES) total[c] += s.counts[c]
      points.push({
        ts: f.ts,
        camera: f.camera,
        zone: zone.id,
        station: f.station,
        district: f.district,
        fields: { ...s.counts, occupancy: s.occupancy, congestion: s.congestion },
      })
      events.push({
        camera: f.camera,
        zone: zone.id,
        ts: f.ts,
        counts: { ...s.counts },
        congestion: s.congestion,
        occupancy: s.occupancy,
        station: f.station,
        district: f.district,
      })
      zones.push({ zone: zone.id, counts: s.counts, occupancy: s.occupancy, congestion: s.congestion })
    }
    let water: number | undefined
    if (res.seg) {
      st.lastSegTs = f.ts
      const dry = await this.dryWater(st, f.camera, cam, gen)
      for (const z of floodZones) {
        let mask = masks.get(z.id)
        if (!mask) {
          mask = zoneMask(z, res.seg.width, res.seg.height)
          masks.set(z.id, mask)
        }
        const w = waterRatio(res.seg, mask, this.d.waterClasses, dry)
        water ??= w.ratio
        points.push({ ts: f.ts, camera: f.camera, zone: z.id, station: f.station, district: f.district, fields: { water_ratio: w.ratio } })
        events.push({
          camera: f.camera,
          zone: z.id,
          ts: f.ts,
          counts: {},
          congestion: 0,
          occupancy: 0,
          water_ratio: w.ratio,
          station: f.station,
          district: f.district,
        })
        zones.push({ zone: z.id, counts: emptyCounts(), occupancy: 0, congestion: 0, water_ratio: w.ratio })
      }
    }
    const rec: DetectionRecord = {
      ts: new Date(f.ts).toISOString(),
      camera: f.camera,
      counts: total,
      objects: objects.map((o) => ({
        class: o.class,
        score: Math.round(o.score * 1000) / 1000,
        box: o.box.map((v) => Math.round(v)) as [number, number, number, number],
      })),
      ...(water !== undefined ? { water_ratio: water } : {}),
      zones,
    }
    // Durable first, then announced (bus contract: consumers see only stored results).
    const write = async (sql?: DetectionSql): Promise<void> => {
      await this.d.sink(points)
      await this.d.log.put(rec, f.ts, sql)
    }
    if (f.lease && this.d.leases) {
      if (!(await this.d.leases.fenced(f.lease, write))) {
        this.m.frames.inc({ outcome: 'lease_lost' })
        this.d.logger.warn({ camera: f.camera, lease: f.lease }, 'vision: camera taken over during analysis, detections not stored')
        return
      }
    } else await write()
    for (const c of VEHICLE_CLASSES) if (total[c]) this.m.objects.inc({ class: c }, total[c])
    st.snapshot = { camera: f.camera, ts: f.ts, jpeg: f.jpeg, width: res.width, height: res.height, objects, config: cam }
    this.m.frames.inc({ outcome: 'analysed' })
    this.m.frameTime.observe((performance.now() - t0) / 1000)
    for (const e of events) this.d.bus?.emit('detection', { ...e, boxes: objects.length })
  }

  /** The dry reference's water mask, segmented once per camera through the pool. */
  private async dryWater(st: CameraState, camera: string, cam: CameraVisionConfig, gen: number): Promise<Uint8Array | null> {
    if (st.configGen === gen && st.dryWater !== undefined) return st.dryWater
    let mask: Uint8Array | null = null
    if (cam.dryReference) {
      try {
        const jpeg = await readFile(cam.dryReference)
        const r = await this.d.pool.analyse({ jpeg, regions: [], segment: true })
        if (r.seg) mask = waterMask(r.seg, this.d.waterClasses)
      } catch (err) {
        this.d.logger.warn({ camera, path: cam.dryReference, err }, 'vision: dry reference unusable; water_ratio not compensated')
      }
    }
    // Kept only if the configuration it was made for is still the camera's.
    if (st.configGen === gen) st.dryWater = mask
    return mask
  }
}
