/**
 * The time range of each series in a batch of points. Two batches whose ranges overlap for some
 * series may hold the same point (series and time), so they must reach InfluxDB one after the
 * other; otherwise they may fly at once. A range rather than the exact times: one Map entry per
 * series and batch, and a device sending in time order never overlaps its previous batch.
 */
export class SeriesRanges {
  private readonly ranges = new Map<string, { min: number; max: number }>()
  /** The oldest time of any series (Infinity when empty). */
  oldest = Number.POSITIVE_INFINITY

  add(series: string, ts: number): void {
    if (ts < this.oldest) this.oldest = ts
    const r = this.ranges.get(series)
    if (r === undefined) this.ranges.set(series, { min: ts, max: ts })
    else if (ts < r.min) r.min = ts
    else if (ts > r.max) r.max = ts
  }

  overlaps(other: SeriesRanges): boolean {
    const [small, large] = this.ranges.size <= other.ranges.size ? [this.ranges, other.ranges] : [other.ranges, this.ranges]
    for (const [series, a] of small) {
      const b = large.get(series)
      if (b !== undefined && a.min <= b.max && b.min <= a.max) return true
    }
    return false
  }

  forEach(fn: (series: string, min: number, max: number) => void): void {
    for (const [series, r] of this.ranges) fn(series, r.min, r.max)
  }
}
