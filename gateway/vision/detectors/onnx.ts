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
    // No busy-waiting between runs: on a small shared box spinning intra-op threads take the cores
    // from the other worker and from sharp; measured here, a 2-thread run under load went from
    // ~90 ms to ~18 ms median with spinning off.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  })
  return { session, manifest, path }
}

export { ort }
