import { createDeeplabOnnx } from './deeplab-onnx.ts'
import type { Detector, PluginOptions, Segmenter } from './types.ts'
import { createYoloxOnnx } from './yolox-onnx.ts'

/** Detector plugins by `vision.detector.type`. */
export const DETECTORS: Record<string, (opts: PluginOptions) => Promise<Detector>> = {
  'yolox-onnx': createYoloxOnnx,
}

/** Segmenter plugins by `vision.flood.segmenter.type`. */
export const SEGMENTERS: Record<string, (opts: Pick<PluginOptions, 'model' | 'modelsDir' | 'threads'>) => Promise<Segmenter>> = {
  'deeplab-onnx': createDeeplabOnnx,
}

export function createDetector(type: string, opts: PluginOptions): Promise<Detector> {
  const make = DETECTORS[type]
  if (!make) throw new Error(`vision.detector.type "${type}" is unknown; known: ${Object.keys(DETECTORS).join(', ')}`)
  return make(opts)
}

export function createSegmenter(type: string, opts: Pick<PluginOptions, 'model' | 'modelsDir' | 'threads'>): Promise<Segmenter> {
  const make = SEGMENTERS[type]
  if (!make) throw new Error(`vision.flood.segmenter.type "${type}" is unknown; known: ${Object.keys(SEGMENTERS).join(', ')}`)
  return make(opts)
}

export type { Detector, Segmenter } from './types.ts'
