/**
 * A condition that may repeat thousands of times a second (a channel flooded with unreadable
 * messages, inputs given up through a long outage): each occurrence is counted, and the log gets
 * a line at most once per `everyMs`, saying how many came since the line before, so whoever
 * floods the cause does not flood the log.
 */
export class CountedLog {
  private since = 0
  private loggedAt = Number.NEGATIVE_INFINITY

  constructor(
    private readonly everyMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Counts `n` more; when a line is due, answers the count since the last one (and starts again), else undefined. */
  note(n = 1): number | undefined {
    this.since += n
    const t = this.now()
    if (t - this.loggedAt < this.everyMs) return undefined
    const count = this.since
    this.since = 0
    this.loggedAt = t
    return count
  }
}
