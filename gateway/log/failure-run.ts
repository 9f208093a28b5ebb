import type { Logger } from './logger.ts'

// A job that runs again and again (a flush every second) and fails for as long as what it needs
// is away (PostgreSQL down): one error line when the failures start, not one per run. A failure
// with another message is logged too (a different problem is never hidden behind the first), a
// reminder once per `remindMs` while it lasts, and one line when the job succeeds again. Every
// failure is counted by the caller (onFailure: its metric).

export interface FailureRunOptions {
  log: Logger
  /** The log message of the failure, e.g. 'rule state flush failed'. */
  what: string
  /** Fields on every line (e.g. { job: 'flush' }). */
  fields?: Record<string, unknown>
  /** While the failures last, a line at least this often (default 60 s). */
  remindMs?: number
  onFailure?: () => void
  now?: () => number
}

export class FailureRun {
  private since: number | undefined
  private failures = 0
  private lastMessage = ''
  private loggedAt = 0

  constructor(private readonly o: FailureRunOptions) {}

  /** Whether the last run failed. */
  get failing(): boolean {
    return this.since !== undefined
  }

  failed(err: unknown): void {
    this.o.onFailure?.()
    const now = (this.o.now ?? Date.now)()
    const message = err instanceof Error ? err.message : String(err)
    this.failures++
    if (this.since === undefined) {
      this.since = now
    } else if (message === this.lastMessage && now - this.loggedAt < (this.o.remindMs ?? 60_000)) {
      return
    }
    this.lastMessage = message
    this.loggedAt = now
    this.o.log.error({ ...this.o.fields, err, failures: this.failures, failingForMs: now - this.since }, this.o.what)
  }

  succeeded(): void {
    if (this.since === undefined) return
    const now = (this.o.now ?? Date.now)()
    this.o.log.info({ ...this.o.fields, failures: this.failures, failedForMs: now - this.since }, `${this.o.what}: works again`)
    this.since = undefined
    this.failures = 0
    this.lastMessage = ''
  }
}
