import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { Piscina } from 'piscina'
import { MODULE_EXT } from '../util/package-root.ts'
import type { AnalyseResult, AnalyseTask, EngineOptions } from './engine.ts'

export interface PoolOptions extends Omit<EngineOptions, 'threads'> {
  workers: number
  /** onnxruntime intra-op threads per worker; default floor(cores / workers), at least 1. */
  threadsPerWorker?: number | undefined
  /**
   * Stop the workers (closing their sessions) after this long without a task; 0 or absent: keep
   * them once started. The next task starts them again.
   */
  idleStopMs?: number | undefined
  /** Told when the workers have loaded their models, failed to, or stopped (for the log). */
  onState?: ((event: PoolEvent) => void) | undefined
}

export type PoolEvent = { state: 'running'; ms: number } | { state: 'failed'; err: unknown } | { state: 'stopped'; idleMs: number }

/**
 * Worker threads owning the onnxruntime sessions. They start with the first task (or `start()`)
 * rather than with the gateway: each holds its sessions and a V8 heap (the default two with
 * onnxruntime: ~170 MB of RSS, bench/README.md "Idle RSS"), which a gateway without cameras does not need (docs/vision.md "Workers").
 *
 * Workers are TypeScript files run under tsx: `--import tsx` is given explicitly rather than
 * inherited, so the pool behaves the same under `node gateway/cli/iocgw.js` and under vitest
 * (whose own transform does not reach workers). A worker that throws on a task (a bad frame)
 * stays alive; one that dies is replaced by piscina.
 */
export class VisionPool {
  private piscina: Piscina | null = null
  private starting: Promise<Piscina> | null = null
  private stopping: Promise<void> | null = null
  private idleTimer: NodeJS.Timeout | null = null
  private inflight = 0
  private lastTaskAt = 0
  private closed = false
  private failed = false
  readonly threadsPerWorker: number
  readonly workers: number

  constructor(private readonly o: PoolOptions) {
    this.workers = o.workers
    this.threadsPerWorker = o.threadsPerWorker ?? Math.max(1, Math.floor(availableParallelism() / o.workers))
  }

  /** Starts the workers if they are not running; resolves once every worker has opened its sessions (throws if a model cannot be loaded). */
  async ready(): Promise<void> {
    await this.start()
    this.touch()
  }

  /** Workers with their models loaded: `workers` while running, 0 while stopped or starting. */
  get loadedWorkers(): number {
    return this.piscina && !this.stopping ? this.workers : 0
  }

  /** The last start failed (a model that cannot be loaded); cleared by a start that succeeds. */
  get startFailed(): boolean {
    return this.failed
  }

  async analyse(task: AnalyseTask): Promise<AnalyseResult> {
    // A task that comes while the workers start (or stop) waits for them; at most one frame per
    // camera waits (VisionPipeline), so the wait is bounded by the number of cameras.
    this.inflight++
    try {
      const p = await this.start()
      // The JPEG is copied into the worker (structured clone); the caller keeps its buffer for the snapshot.
      return (await p.run(task)) as AnalyseResult
    } finally {
      this.inflight--
      this.touch()
    }
  }

  /** One raw session.run on the worker's prepared tensor; resolves with its duration in ms. */
  async runRaw(segment = false): Promise<number> {
    this.inflight++
    try {
      return (await (await this.start()).run({ op: 'raw', segment })) as number
    } finally {
      this.inflight--
      this.touch()
    }
  }

  get queueSize(): number {
    return this.piscina?.queueSize ?? 0
  }

  get threadCount(): number {
    return this.piscina?.threads.length ?? 0
  }

  async close(): Promise<void> {
    this.closed = true
    this.clearIdle()
    // Terminating a worker while onnxruntime is still creating its session can bring the whole
    // process down (a native abort): a start in progress is waited for first.
    await this.starting?.catch(() => undefined)
    await this.stop()
  }

  private start(): Promise<Piscina> {
    if (this.closed) return Promise.reject(new Error('vision pool closed'))
    if (this.piscina && !this.stopping) return Promise.resolve(this.piscina)
    if (this.starting) return this.starting
    const starting = this.open().finally(() => {
      this.starting = null
    })
    this.starting = starting
    return starting
  }

  private async open(): Promise<Piscina> {
    await this.stopping
    const t0 = performance.now()
    const o = this.o
    const workerData: EngineOptions = {
      detector: o.detector,
      segmenter: o.segmenter,
      modelsDir: o.modelsDir,
      threads: this.threadsPerWorker,
      maxPixels: o.maxPixels,
    }
    // Imported with the first start: a gateway without cameras does not load the pool's code.
    const { Piscina: Pool } = await import('piscina')
    const p = new Pool({
      filename: fileURLToPath(new URL(`./worker${MODULE_EXT}`, import.meta.url)),
      // The sources run through tsx, which a worker thread does not inherit; the build needs nothing.
      execArgv: MODULE_EXT === '.ts' ? ['--import', 'tsx'] : [],
      minThreads: this.workers,
      maxThreads: this.workers,
      // Two frames per worker: one is decoded and letterboxed while the other is in session.run
      // (the detector runs its session one frame at a time).
      concurrentTasksPerWorker: 2,
      // Each camera keeps at most one frame in flight, so the queue is bounded by the camera count;
      // this cap only guards against a caller that does not.
      maxQueue: 1024,
      // Stopping is the pool's own decision (idleStopMs), for all workers at once.
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData,
    })
    try {
      await this.loaded(p)
    } catch (err) {
      this.failed = true
      o.onState?.({ state: 'failed', err })
      await p.destroy().catch(() => undefined)
      throw err
    }
    this.failed = false
    this.piscina = p
    o.onState?.({ state: 'running', ms: Math.round(performance.now() - t0) })
    return p
  }

  /**
   * Resolves once every worker has answered a ping, which each answers only after opening its
   * sessions: until then a stop would terminate a worker in the middle of its session creation.
   */
  private async loaded(p: Piscina): Promise<void> {
    const seen = new Set<number>()
    for (let round = 0; seen.size < this.workers; round++) {
      // piscina hands a task to the least busy worker, so a round reaches every worker unless one
      // is not up yet; a few rounds cover that.
      if (round >= 50) throw new Error(`vision pool: only ${seen.size} of ${this.workers} workers answered`)
      const ids = await Promise.all(Array.from({ length: this.workers }, () => p.run({ op: 'ping' }) as Promise<number>))
      for (const id of ids) seen.add(id)
    }
  }

  private touch(): void {
    this.lastTaskAt = performance.now()
    const ms = this.o.idleStopMs
    if (!ms || this.closed || this.idleTimer) return
    this.idleTimer = setTimeout(() => this.idleCheck(ms), ms)
    this.idleTimer.unref()
  }

  private idleCheck(ms: number): void {
    this.idleTimer = null
    if (this.closed || !this.piscina) return
    const idle = performance.now() - this.lastTaskAt
    if (this.inflight > 0 || this.starting || idle < ms) {
      // Not idle long enough yet: look again when it would be.
      this.idleTimer = setTimeout(() => this.idleCheck(ms), Math.max(10, ms - (this.inflight > 0 ? 0 : idle)))
      this.idleTimer.unref()
      return
    }
    void this.stop().then(() => this.o.onState?.({ state: 'stopped', idleMs: Math.round(idle) }))
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer)
    this.idleTimer = null
  }

  private stop(): Promise<void> {
    const p = this.piscina
    if (!p) return this.stopping ?? Promise.resolve()
    this.stopping ??= p
      .destroy()
      .catch(() => undefined)
      .finally(() => {
        this.piscina = null
        this.stopping = null
      })
    return this.stopping
  }
}
