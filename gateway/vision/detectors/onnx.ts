import * as ort from 'onnxruntime-node'
import { resolveModel, type ModelManifest } from '../../../models/manifest.ts'

export interface LoadedSession {
  session: ort.InferenceSession
  manifest: ModelManifest
  path: string
}

/**
 * One session per worker. intraOpNumThreads is set by the pool (cores / workers) so workers do not
 * fight for the same cores; inter-op parallelism is off because these graphs are sequential.
 */
export async function openSession(model: string, modelsDir: string | undefined, threads: number): Promise<LoadedSession> {
  const { manifest, path } = await resolveModel(model, modelsDir)
  const session = await ort.InferenceSession.create(path, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  })
  return { session, manifest, path }
}

export { ort }
