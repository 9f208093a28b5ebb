import { threadId, workerData } from 'node:worker_threads'
import { Engine, type AnalyseResult, type AnalyseTask, type EngineOptions } from './engine.ts'

// A pool worker: one Engine (one onnxruntime session per model) per thread, opened once.
const ready: Promise<Engine> = Engine.open(workerData as EngineOptions)
// Keep a failed open from becoming an unhandled rejection before the first task reads it.
ready.catch(() => undefined)

export default async function analyse(
  task: AnalyseTask | { op: 'raw'; segment?: boolean } | { op: 'ping' },
): Promise<AnalyseResult | number> {
  const engine = await ready
  if ('op' in task) {
    // The thread id tells the pool which of its workers have opened their sessions.
    if (task.op === 'ping') return threadId
    return task.segment ? engine.segmenter!.runRaw() : engine.detector.runRaw()
  }
  return engine.analyse(task)
}
