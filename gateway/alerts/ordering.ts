// The order of alert work per subject. A rule state and its alert change once per input, and
// with an asynchronous store two inputs of one subject could otherwise both read the state before
// either wrote it. Each subject's work (readings, detections, device status, silence checks,
// acknowledgements, resolutions, escalations) runs one task at a time, in arrival order, while
// different subjects proceed side by side.

/**
 * The ordering key of a subject: the subject key itself, except that a device's zones
 * (`device:{camera}:{zone}`) share the camera's, since one detection steps all of them.
 */
export function partitionOf(subject: string): string {
  if (!subject.startsWith('device:')) return subject
  const colon = subject.indexOf(':', 'device:'.length)
  return colon < 0 ? subject : subject.slice(0, colon)
}

/** One promise chain per key; a key's entry goes once its chain has run dry, so the map stays small. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>()
  private readonly all = new Set<Promise<unknown>>()

  /** Runs `fn` after every task queued before it under `key`; answers its result. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key)
    return this.track(key, prev ? prev.then(fn, fn) : fn())
  }

  /**
   * As run, for work that mostly needs no store (a reading that changes no alert): with nothing
   * queued under `key`, `step(ctx, input, fence)` runs now, and when it answers undefined (it
   * finished synchronously) nothing is queued and no promise made, which is what a reading's
   * evaluation cost most of all. Answers undefined then, else a promise of the rest. A synchronous
   * throw reaches the caller. The step and its arguments come apart, not as a closure, and the
   * queued path is a method of its own: either way a closure was an allocation per reading.
   */
  post<C, I, F>(
    key: string,
    step: (ctx: C, input: I, fence: F) => Promise<void> | undefined,
    ctx: C,
    input: I,
    fence: F,
  ): Promise<void> | undefined {
    if (this.busy(key)) return this.postBehind(key, step, ctx, input, fence)
    const rest = step(ctx, input, fence)
    return rest && this.track(key, rest)
  }

  private postBehind<C, I, F>(
    key: string,
    step: (ctx: C, input: I, fence: F) => Promise<void> | undefined,
    ctx: C,
    input: I,
    fence: F,
  ): Promise<void> {
    return this.run(key, () => step(ctx, input, fence) ?? Promise.resolve())
  }

  /** Whether work is queued or running under `key`. */
  busy(key: string): boolean {
    return this.tails.has(key)
  }

  private track<T>(key: string, task: Promise<T>): Promise<T> {
    const tail = task.catch(() => undefined)
    this.tails.set(key, tail)
    this.all.add(tail)
    void tail.then(() => {
      this.all.delete(tail)
      if (this.tails.get(key) === tail) this.tails.delete(key)
    })
    return task
  }

  /** Resolves once every task queued so far, and every task they queued meanwhile, has run. */
  async idle(): Promise<void> {
    while (this.all.size > 0) await Promise.all([...this.all])
  }
}
