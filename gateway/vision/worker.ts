import { workerData } from 'node:worker_threads'
import { Engine, type AnalyseResult, type AnalyseTask, type EngineOptions } from './engine.ts'

// A pool worker: one Engine (one onnxruntime session per model) per thread, opened once.
const ready: Promise<Engine> = Engine.open(workerData as EngineOptions)
// Keep a failed open from becoming an unhandled rejection before the first task reads it.
ready.catch(() => undefined)

export default async function analyse(
  task: AnalyseTask | { op: 'raw'; segment?: boolean } | { op: 'ping' },
): Promise<AnalyseResult | number | true> {
  const engine = await ready
  if ('op' in task) {
    if (task.op === 'ping') return true
    return task.segment ? engine.segmenter!.runRaw() : engine.detector.runRaw()
  }
  return engine.analyse(task)
}
