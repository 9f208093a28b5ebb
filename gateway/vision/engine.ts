import sharp, { type SharpOptions } from 'sharp'
import { createDetector, createSegmenter, type Detector, type Segmenter } from './detectors/index.ts'
import { undecodable, type Timings } from './detectors/types.ts'
import type { Detection } from './nms.ts'
import type { RawFrame, Region } from './yolox.ts'
import type { TilingConfig, Zone } from './config.ts'
import { anyMotion, gridFromRgb, motionBoxes, movedCells, type MotionGrid } from './motion.ts'
import { motionRegions, planRegions } from './tiles.ts'
import type { PartialScope } from './tracker.ts'

// What one pool worker holds: the sessions, and the analysis of one frame. Also usable in-process
// (tests, `models verify`).

export interface EngineOptions {
  detector: { type: string; model: string; scoreThreshold: number; nmsIou: number; nmsIos: number }
  segmenter: { type: string; model: string } | null
  modelsDir?: string | undefined
  threads: number
  /** sharp's limitInputPixels: a decoder that refuses an oversized frame even if a check upstream missed it. */
  maxPixels?: number | undefined
  /**
   * 'model' (default): each frame decoded at the size its passes need (docs/vision.md, "Decode
   * size"). 'full': every frame decoded at full size once and every pass resized from those
   * pixels, the reference pipeline of docs/vision.md "Models" that 'model' is tested against.
   */
  decode?: 'model' | 'full' | undefined
}

export interface AnalyseTask {
  jpeg: Uint8Array
  /**
   * Regions to detect in (null = the whole frame; [null] is a single pass), or a plan from the
   * camera's zones and tiling, made here once the frame size is known.
   */
  regions: Array<Region | null> | { zones: Zone[]; tiling: TilingConfig | undefined }
  segment: boolean
  /**
   * Against `prev`, the grid of the camera's last analysed frame: skip detection when nothing
   * moved, and on a tiled frame detect only where it moved. `force`: the whole plan, no gate.
   */
  motion?: { prev: MotionGrid | null; threshold: number; force: boolean } | undefined
}

export interface AnalyseResult {
  width: number
  height: number
  /** Detector passes run on the frame (1 = one whole-frame pass; more = tiles or motion regions). */
  regions: number
  /** True when nothing moved (objects empty, no segmentation). */
  skipped: boolean
  /** Motion grid of this frame (when motion was asked for). */
  grid: MotionGrid | null
  /** Set when only the moving parts of a tiled frame were analysed (tracker.ts carries the rest). */
  partial: PartialScope | null
  objects: Detection[]
  seg: { width: number; height: number; classes: Uint8Array } | null
  timings: Timings
}

export class Engine {
  private constructor(
    readonly detector: Detector,
    readonly segmenter: Segmenter | null,
    private readonly maxPixels: number | undefined,
    private readonly fullDecode: boolean,
  ) {}

  static async open(o: EngineOptions): Promise<Engine> {
    // libvips gets one thread per worker: the pool already spreads frames over the cores.
    sharp.concurrency(1)
    sharp.cache(false)
    const detector = await createDetector(o.detector.type, {
      model: o.detector.model,
      modelsDir: o.modelsDir,
      threads: o.threads,
      scoreThreshold: o.detector.scoreThreshold,
      nmsIou: o.detector.nmsIou,
      nmsIos: o.detector.nmsIos,
    })
    const segmenter = o.segmenter
      ? await createSegmenter(o.segmenter.type, { model: o.segmenter.model, modelsDir: o.modelsDir, threads: o.threads })
      : null
    return new Engine(detector, segmenter, o.maxPixels, o.decode === 'full')
  }

  async analyse(task: AnalyseTask): Promise<AnalyseResult> {
    const timings: Timings = { preprocessMs: 0, inferMs: 0, postprocessMs: 0, jpegDecodes: 0 }
    const t0 = performance.now()
    const jpeg = Buffer.from(task.jpeg.buffer, task.jpeg.byteOffset, task.jpeg.byteLength)
    const decoderOptions: SharpOptions = {
      autoOrient: true,
      // libjpeg only warns on corrupt entropy data (a cut-off frame with an EOI appended, say) and
      // would hand back a half-grey frame whose counts are wrong.
      failOn: 'warning',
      // Top-to-bottom decode: ~8 % less CPU per frame measured here, and less memory.
      sequentialRead: true,
      ...(this.maxPixels ? { limitInputPixels: this.maxPixels } : {}),
    }
    // A new decoder for each use rather than sharp's clone(), which structuredClones its options,
    // the JPEG included: 0.25 ms per clone of a 1280x720 frame, once per pass of a tiled frame.
    const decoder = () => sharp(jpeg, decoderOptions)
    const meta = await decoder()
      .metadata()
      .catch((err: unknown) => {
        throw undecodable(err)
      })
    if (meta.format !== 'jpeg') throw undecodable(`not a JPEG (decoded as ${meta.format})`)
    const frame = { width: meta.autoOrient.width, height: meta.autoOrient.height }
    timings.preprocessMs += performance.now() - t0
    const plan = Array.isArray(task.regions)
      ? task.regions
      : planRegions(frame, task.regions.zones, task.regions.tiling, this.detector.inputSize)
    const tiled = plan.length > 1 || (plan.length === 1 && plan[0] !== null)
    // A tiled frame: decode the JPEG once at full size (tiles of about the model's input size need
    // every source pixel) and cut the tiles, the whole-frame pass and the motion grid from those
    // pixels. One whole-frame pass: the detector decodes it for that pass, DCT-scaled by libjpeg
    // when the frame is large enough (yolox.ts letterboxInto), and the grid comes from its input.
    let pixels: RawFrame | undefined
    if (tiled || this.fullDecode) {
      timings.jpegDecodes++
      const t1 = performance.now()
      const { data, info } = await decoder()
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true })
        .catch((err: unknown) => {
          throw undecodable(err)
        })
      pixels = { data, width: info.width, height: info.height }
      timings.preprocessMs += performance.now() - t1
    }
    const m = task.motion
    let grid: MotionGrid | null = null
    let regions = plan
    let partial: PartialScope | null = null
    if (m && pixels && tiled) {
      const t1 = performance.now()
      grid = gridFromRgb(pixels)
      const moved = m.force || !m.prev ? null : movedCells(grid, m.prev, m.threshold)
      if (moved) {
        const moving = motionBoxes(grid, moved)
        regions = moving.length ? motionRegions(plan, moving) : []
        if (regions !== plan) partial = { analysed: regions, moving }
      }
      timings.preprocessMs += performance.now() - t1
      if (!regions.length) return { ...frame, regions: 0, skipped: true, grid, partial: null, objects: [], seg: null, timings }
    }
    const gate =
      m && !tiled
        ? (g: MotionGrid) => {
            grid = g
            return m.force || !m.prev || anyMotion(g, m.prev, m.threshold)
          }
        : undefined
    const objects = await this.detector.detect(decoder, frame, regions, timings, gate, pixels)
    if (objects === null) return { ...frame, regions: 0, skipped: true, grid, partial: null, objects: [], seg: null, timings }
    const seg = task.segment && this.segmenter ? await this.segmenter.segment(decoder, timings, pixels) : null
    return { ...frame, regions: regions.length, skipped: false, grid, partial, objects, seg, timings }
  }

  async close(): Promise<void> {
    await this.detector.close()
    await this.segmenter?.close()
  }
}
