import { Worker } from 'node:worker_threads'
import type { PostDone, PostJob, PostTarget } from './post-thread.ts'
import { PostError, type PostAnswer } from './write-request.ts'

// Write requests are POSTed by a thread of their own (post-thread.ts), off the one thread every
// reading goes through: at full ingest the HTTP client and the system calls handing each body to
// the kernel were 7-10 % of that thread's busy time in a CPU profile. The body's bytes cross over
// as one copy. The thread starts with the store and ends after a minute without a write (the next
// write starts it again), so a gateway that stores nothing does not carry it for long
// (docs/operations.md "Memory and the Node.js young generation"). Measured: bench/README.md
// "ingest".

const ENTRY = new URL('./post-thread.js', import.meta.url)
/** The thread holds bodies only while they are in flight: a small heap of its own. */
const LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 32 }

export class OffThreadPoster {
  private worker: Worker | undefined
  private readonly pending = new Map<number, { resolve: (a: PostAnswer) => void; reject: (e: PostError) => void }>()
  private nextId = 1
  private idleTimer: NodeJS.Timeout | undefined
  /** The thread takes requests (it said so); `start` callers waiting for that. */
  private ready = false
  private whenReady: Array<() => void> = []
  private closed = false

  constructor(
    private readonly target: PostTarget,
    private readonly idleStopMs = 60_000,
  ) {}

  /** Whether the thread is running now. */
  get running(): boolean {
    return this.worker !== undefined
  }

  /** Starts the thread now rather than with the first write; resolves once it runs (it ends after a minute without a write). */
  start(): Promise<void> {
    if (this.closed) return Promise.resolve()
    const worker = this.worker ?? this.spawn()
    this.armIdleStop()
    if (this.ready) return Promise.resolve()
    return new Promise<void>((resolve) => {
      this.whenReady.push(resolve)
      worker.once('exit', () => resolve())
    })
  }

  /** The answer's status and (at most 500 characters of) its text; rejects with a PostError. */
  post(body: Buffer): Promise<PostAnswer> {
    if (this.closed) return Promise.reject(new PostError('the InfluxDB writer is closed', 'network'))
    const worker = this.worker ?? this.spawn()
    if (this.idleTimer) {
      clearTimeout(this.idleTimer)
      this.idleTimer = undefined
    }
    const id = this.nextId++
    return new Promise<PostAnswer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      // The body's own bytes, copied once and moved over: cloning the view would copy its whole
      // backing buffer (the batch buffer, 64 KiB or more, also for a body of a few lines), and
      // the body itself stays here for the spill journal.
      const bytes = new Uint8Array(body).buffer
      worker.postMessage({ id, body: bytes } satisfies PostJob, [bytes])
    })
  }

  close(): void {
    this.closed = true
    this.stop(new PostError('the InfluxDB writer is closed', 'network'))
  }

  private spawn(): Worker {
    const worker = new Worker(ENTRY, {
      workerData: this.target,
      resourceLimits: LIMITS,
    })
    // Never what keeps the gateway running: its stores and sockets do that.
    worker.unref()
    this.ready = false
    worker.on('message', (m: PostDone) => {
      if (this.worker === worker) this.answered(m)
    })
    // A thread that fails or ends fails what it had in flight (retried like any network failure);
    // the next write starts another.
    worker.on('error', (err: Error) => this.ended(worker, `the InfluxDB write thread failed: ${err.message}`))
    worker.on('exit', (code) => this.ended(worker, `the InfluxDB write thread ended (exit code ${code})`))
    this.worker = worker
    return worker
  }

  private answered(m: PostDone): void {
    if ('ready' in m) {
      this.ready = true
      for (const resolve of this.whenReady.splice(0)) resolve()
      return
    }
    const p = this.pending.get(m.id)
    if (!p) return
    this.pending.delete(m.id)
    if ('error' in m) p.reject(new PostError(m.error.message, m.error.kind))
    else p.resolve({ status: m.status, text: m.text })
    if (this.pending.size === 0) this.armIdleStop()
  }

  private armIdleStop(): void {
    if (this.closed || this.pending.size > 0) return
    if (this.idleTimer) clearTimeout(this.idleTimer)
    this.idleTimer = setTimeout(() => this.stop(undefined), this.idleStopMs)
    this.idleTimer.unref()
  }

  private ended(worker: Worker, why: string): void {
    if (this.worker !== worker) return
    this.worker = undefined
    this.ready = false
    this.failPending(new PostError(why, 'network'))
  }

  /** Ends the thread; what is still in flight fails with `err` (none in flight when it stops idle). */
  private stop(err: PostError | undefined): void {
    if (this.idleTimer) clearTimeout(this.idleTimer)
    this.idleTimer = undefined
    const worker = this.worker
    this.worker = undefined
    this.ready = false
    if (err) this.failPending(err)
    if (worker) void worker.terminate()
  }

  private failPending(err: PostError): void {
    const all = [...this.pending.values()]
    this.pending.clear()
    for (const p of all) p.reject(err)
  }
}
