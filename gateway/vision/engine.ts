import sharp from 'sharp'
import { createDetector, createSegmenter, type Detector, type Segmenter } from './detectors/index.ts'
import { undecodable, type Timings } from './detectors/types.ts'
import type { Detection } from './nms.ts'
import type { RawFrame, Region } from './yolox.ts'
import type { TilingConfig, Zone } from './config.ts'
import { thumbDiff } from './motion.ts'
import { planRegions } from './tiles.ts'

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
  /** Skip detection when the frame barely differs from `prev` (unless `force`). */
  motion?: { prev: Uint8Array | null; threshold: number; force: boolean } | undefined
}

export interface AnalyseResult {
  width: number
  height: number
  /** Detector passes planned for the frame (1 = one whole-frame pass; more = tiles). */
  regions: number
  /** True when the motion gate stopped the analysis (objects empty, no segmentation). */
  skipped: boolean
  /** Motion thumbnail of this frame (when a gate was asked for). */
  thumb: Uint8Array | null
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
    // failOn 'warning': libjpeg only warns on corrupt entropy data (a cut-off frame with an EOI
    // appended, say) and would hand back a half-grey frame whose counts are wrong.
    const image = sharp(Buffer.from(task.jpeg.buffer, task.jpeg.byteOffset, task.jpeg.byteLength), {
      autoOrient: true,
      failOn: 'warning',
      // Top-to-bottom decode: ~8 % less CPU per frame measured here, and less memory.
      sequentialRead: true,
      ...(this.maxPixels ? { limitInputPixels: this.maxPixels } : {}),
    })
    const meta = await image.metadata().catch((err: unknown) => {
      throw undecodable(err)
    })
    if (meta.format !== 'jpeg') throw undecodable(`not a JPEG (decoded as ${meta.format})`)
    const frame = { width: meta.autoOrient.width, height: meta.autoOrient.height }
    timings.preprocessMs += performance.now() - t0
    const regions = Array.isArray(task.regions)
      ? task.regions
      : planRegions(frame, task.regions.zones, task.regions.tiling, this.detector.inputSize)
    let thumb: Uint8Array | null = null
    const m = task.motion
    const gate = m
      ? (t: Uint8Array) => {
          thumb = t
          return m.force || !m.prev || thumbDiff(t, m.prev) >= m.threshold
        }
      : undefined
    // Several regions (tiles): decode the JPEG once at full size (tiles of about the model's input
    // size need every source pixel) and cut the tiles and the whole-frame pass from those pixels,
    // instead of decoding again for each. One region: the detector decodes it for that pass,
    // DCT-scaled by libjpeg when the frame is large enough (yolox.ts letterboxInto).
    let pixels: RawFrame | undefined
    if (regions.length > 1 || this.fullDecode) {
      timings.jpegDecodes++
      const t1 = performance.now()
      const { data, info } = await image
        .clone()
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true })
        .catch((err: unknown) => {
          throw undecodable(err)
        })
      pixels = { data, width: info.width, height: info.height }
      timings.preprocessMs += performance.now() - t1
    }
    const objects = await this.detector.detect(image, frame, regions, timings, gate, pixels)
    if (objects === null) return { ...frame, regions: regions.length, skipped: true, thumb, objects: [], seg: null, timings }
    const seg = task.segment && this.segmenter ? await this.segmenter.segment(image, timings, pixels) : null
    return { ...frame, regions: regions.length, skipped: false, thumb, objects, seg, timings }
  }

  async close(): Promise<void> {
    await this.detector.close()
    await this.segmenter?.close()
  }
}
