import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { Piscina } from 'piscina'
import type { AnalyseResult, AnalyseTask, EngineOptions } from './engine.ts'

export interface PoolOptions extends Omit<EngineOptions, 'threads'> {
  workers: number
  /** onnxruntime intra-op threads per worker; default floor(cores / workers), at least 1. */
  threadsPerWorker?: number | undefined
}

/**
 * Worker threads owning the onnxruntime sessions. Workers are TypeScript files run under tsx:
 * `--import tsx` is given explicitly rather than inherited, so the pool behaves the same under
 * `node gateway/cli/iocgw.js` and under vitest (whose own transform does not reach workers).
 * A worker that throws on a task (a bad frame) stays alive; one that dies is replaced by piscina.
 */
export class VisionPool {
  private readonly piscina: Piscina
  readonly threadsPerWorker: number
  readonly workers: number

  constructor(o: PoolOptions) {
    this.workers = o.workers
    this.threadsPerWorker = o.threadsPerWorker ?? Math.max(1, Math.floor(availableParallelism() / o.workers))
    const workerData: EngineOptions = {
      detector: o.detector,
      segmenter: o.segmenter,
      modelsDir: o.modelsDir,
      threads: this.threadsPerWorker,
      maxPixels: o.maxPixels,
    }
    this.piscina = new Piscina({
      filename: fileURLToPath(new URL('./worker.ts', import.meta.url)),
      execArgv: ['--import', 'tsx'],
      minThreads: o.workers,
      maxThreads: o.workers,
      // Two frames per worker: one is decoded and letterboxed while the other is in session.run
      // (the detector runs its session one frame at a time).
      concurrentTasksPerWorker: 2,
      // Each camera keeps at most one frame in flight, so the queue is bounded by the camera count;
      // this cap only guards against a caller that does not.
      maxQueue: 1024,
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData,
    })
  }

  /** Resolves once every worker has opened its sessions (throws if a model cannot be loaded). */
  async ready(): Promise<void> {
    await Promise.all(Array.from({ length: this.workers }, () => this.piscina.run({ op: 'ping' })))
  }

  analyse(task: AnalyseTask): Promise<AnalyseResult> {
    // The JPEG is copied into the worker (structured clone); the caller keeps its buffer for the snapshot.
    return this.piscina.run(task) as Promise<AnalyseResult>
  }

  /** One raw session.run on the worker's prepared tensor; resolves with its duration in ms. */
  runRaw(segment = false): Promise<number> {
    return this.piscina.run({ op: 'raw', segment }) as Promise<number>
  }

  get queueSize(): number {
    return this.piscina.queueSize
  }

  get threadCount(): number {
    return this.piscina.threads.length
  }

  async close(): Promise<void> {
    await this.piscina.destroy()
  }
}
