/**
 * At most `limit` holders at once; the rest wait in arrival order. Ingest takes a place before it
 * parses a message, so messages that wait for the store hold only their raw payload, not the
 * parsed document, points and line protocol built from it (which multiplied the heap under load).
 */
export class Gate {
  private active = 0
  private readonly waiting: Array<() => void> = []
  private head = 0

  constructor(readonly limit: number) {}

  enter(): Promise<void> | undefined {
    if (this.active < this.limit) {
      this.active++
      return undefined
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve))
  }

  leave(): void {
    if (this.head < this.waiting.length) {
      // The place passes straight to the next waiter (active stays the same).
      const next = this.waiting[this.head]!
      this.waiting[this.head++] = undefined as never
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head)
        this.head = 0
      }
      next()
    } else this.active--
  }

  get queued(): number {
    return this.waiting.length - this.head
  }
}
