import type { Sharp } from 'sharp'
import type { MotionGrid } from '../motion.ts'
import type { Detection } from '../nms.ts'
import type { RawFrame, Region } from '../yolox.ts'

export interface FrameSize {
  width: number
  height: number
}

export interface Timings {
  preprocessMs: number
  inferMs: number
  postprocessMs: number
  /** JPEG decodes for the frame (one per libvips pipeline reading the JPEG; the header read not counted). */
  jpegDecodes: number
}

/**
 * An object detector behind one interface, picked by `vision.detector.type` (in the manner of
 * Frigate's detector plugins), so another runtime or model can be added without touching the
 * pipeline. Instances live inside a pool worker.
 */
export interface Detector {
  readonly type: string
  /** Side of the model's square input in pixels (the automatic tiling rule compares frames with it). */
  readonly inputSize: number
  /**
   * Detects objects in each region (null = the whole frame) and merges them into source pixels.
   * `decoder` makes a fresh decoder of the frame's JPEG for each use. `gate` comes only
   * with a single whole-frame pass: it is called with the motion grid of the letterboxed input
   * (motion.ts gridFromPlanar) before the inference; if it returns false, detection stops and
   * null is returned (motion gating).
   */
  detect(
    decoder: () => Sharp,
    frame: FrameSize,
    regions: Array<Region | null>,
    t: Timings,
    gate?: (grid: MotionGrid) => boolean,
    /** The frame already decoded (when there are several regions), to cut tiles from. */
    pixels?: RawFrame,
  ): Promise<Detection[] | null>
  /** One inference on a prepared input, for `models verify` and the raw benchmark. */
  runRaw(): Promise<number>
  close(): Promise<void>
}

/** A per-pixel scene classifier (class id per pixel at its own resolution). */
export interface Segmenter {
  readonly type: string
  /** `pixels`: the frame already decoded (a tiled frame), used instead of decoding the JPEG again. */
  segment(decoder: () => Sharp, t: Timings, pixels?: RawFrame): Promise<{ width: number; height: number; classes: Uint8Array }>
  /** Class ids that mean water. */
  readonly waterClasses: number[]
  runRaw(): Promise<number>
  close(): Promise<void>
}

export interface PluginOptions {
  model: string
  modelsDir?: string | undefined
  /** onnxruntime intra-op threads for this worker's session. */
  threads: number
  scoreThreshold: number
  nmsIou: number
  /** Intersection over the smaller box above which a tile fragment is merged away. */
  nmsIos: number
}

/**
 * Marks a decode failure (the frame's fault, refused and counted as `undecodable`) apart from a
 * model or runtime failure. A prefix, because errors cross the worker boundary as plain Errors.
 */
export const UNDECODABLE = 'undecodable: '
export function undecodable(err: unknown): Error {
  return new Error(UNDECODABLE + (err instanceof Error ? err.message : String(err)))
}
