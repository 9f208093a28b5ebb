import sharp from 'sharp'
import { createDetector, createSegmenter, type Detector, type Segmenter } from './detectors/index.ts'
import type { Timings } from './detectors/types.ts'
import type { Detection } from './nms.ts'
import type { Region } from './yolox.ts'

// What one pool worker holds: the sessions, and the analysis of one frame. Also usable in-process
// (tests, `models verify`).

export interface EngineOptions {
  detector: { type: string; model: string; scoreThreshold: number; nmsIou: number; nmsIos: number }
  segmenter: { type: string; model: string } | null
  modelsDir?: string | undefined
  threads: number
}

export interface AnalyseTask {
  jpeg: Uint8Array
  /** Regions to detect in; null = the whole frame. [null] is a single pass. */
  regions: Array<Region | null>
  segment: boolean
}

export interface AnalyseResult {
  width: number
  height: number
  objects: Detection[]
  seg: { width: number; height: number; classes: Uint8Array } | null
  timings: Timings
}

export class Engine {
  private constructor(
    readonly detector: Detector,
    readonly segmenter: Segmenter | null,
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
    return new Engine(detector, segmenter)
  }

  async analyse(task: AnalyseTask): Promise<AnalyseResult> {
    const timings: Timings = { preprocessMs: 0, inferMs: 0, postprocessMs: 0 }
    const t0 = performance.now()
    // failOn 'warning': libjpeg only warns on corrupt entropy data (a cut-off frame with an EOI
    // appended, say) and would hand back a half-grey frame whose counts are wrong.
    const image = sharp(Buffer.from(task.jpeg.buffer, task.jpeg.byteOffset, task.jpeg.byteLength), {
      autoOrient: true,
      failOn: 'warning',
    })
    const meta = await image.metadata()
    if (meta.format !== 'jpeg') throw new Error(`not a JPEG (decoded as ${meta.format})`)
    const frame = { width: meta.autoOrient.width, height: meta.autoOrient.height }
    timings.preprocessMs += performance.now() - t0
    const objects = await this.detector.detect(image, frame, task.regions, timings)
    const seg = task.segment && this.segmenter ? await this.segmenter.segment(image, timings) : null
    return { ...frame, objects, seg, timings }
  }

  async close(): Promise<void> {
    await this.detector.close()
    await this.segmenter?.close()
  }
}
