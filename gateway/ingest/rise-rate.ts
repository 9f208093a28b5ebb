import { BoundedMap } from '../util/lru.ts'

// Rate of rise of a water level (m/h) over a window, per device. Least-squares slope rather than
// first-to-last difference: one noisy sample at either end must not fake a fast rise. Computed
// in event time, so a replayed reading gets the rate of its own moment.

export interface RiseRateState {
  /** Records a level at `ts` and returns the slope over [ts - windowMs, ts], or undefined. */
  add(device: string, ts: number, level: number, windowMs: number): number | undefined
}

const HOUR = 3_600_000
/** Running sums are rebuilt from the samples this often, so float error cannot accumulate. */
const REBUILD_EVERY = 1024

/** Least-squares sums over a run of samples, x in hours from `origin`. */
interface Sums {
  n: number
  sx: number
  sy: number
  sxx: number
  sxy: number
}

/**
 * One device's samples in time order (parallel arrays from `head`), with running sums over the
 * samples in the current window [lo, end). A reading that arrives in order, the usual case, costs
 * O(1) amortised: its sample is added to the sums and those leaving the window are taken out.
 * A late or out-of-order reading is inserted in place and its slope summed over its own window.
 */
class Series {
  ts: number[] = []
  v: number[] = []
  head = 0
  lo = 0
  origin = 0
  sums: Sums = { n: 0, sx: 0, sy: 0, sxx: 0, sxy: 0 }
  valid = false
  sinceRebuild = 0

  get newest(): number | undefined {
    return this.ts.length > this.head ? this.ts[this.ts.length - 1] : undefined
  }

  /** First index in [head, end) whose time is >= t. */
  lowerBound(t: number): number {
    let a = this.head
    let b = this.ts.length
    while (a < b) {
      const mid = (a + b) >>> 1
      if (this.ts[mid]! < t) a = mid + 1
      else b = mid
    }
    return a
  }

  put(t: number, level: number): 'appended' | 'changed' {
    const newest = this.newest
    if (newest === undefined || t > newest) {
      this.ts.push(t)
      this.v.push(level)
      return 'appended'
    }
    const i = this.lowerBound(t)
    if (this.ts[i] === t) this.v[i] = level
    else {
      this.ts.splice(i, 0, t)
      this.v.splice(i, 0, level)
    }
    this.valid = false
    return 'changed'
  }

  trim(keepMs: number, maxSamples: number): void {
    const newest = this.newest!
    while (this.head < this.ts.length && (this.ts[this.head]! < newest - keepMs || this.ts.length - this.head > maxSamples)) this.head++
    // Samples dropped from inside the summed window leave the sums too.
    if (this.valid) while (this.lo < this.head) this.addAt(this.lo++, -1)
    // Compact now and then rather than shifting the arrays on every reading.
    if (this.head > 1024 && this.head * 2 > this.ts.length) {
      this.ts.splice(0, this.head)
      this.v.splice(0, this.head)
      this.lo = Math.max(0, this.lo - this.head)
      this.head = 0
    }
  }

  addAt(i: number, sign: 1 | -1): void {
    const x = (this.ts[i]! - this.origin) / HOUR
    const y = this.v[i]!
    const s = this.sums
    s.n += sign
    s.sx += sign * x
    s.sy += sign * y
    s.sxx += sign * x * x
    s.sxy += sign * x * y
  }

  /** Sums over the window ending at the newest sample, which was just appended. */
  windowOfNewest(from: number): { sums: Sums; first: number } {
    const last = this.ts.length - 1
    if (!this.valid || ++this.sinceRebuild >= REBUILD_EVERY) {
      this.origin = this.ts[last]!
      this.sums = { n: 0, sx: 0, sy: 0, sxx: 0, sxy: 0 }
      this.lo = this.lowerBound(from)
      for (let i = this.lo; i <= last; i++) this.addAt(i, 1)
      this.valid = true
      this.sinceRebuild = 0
    } else {
      this.addAt(last, 1)
      while (this.lo < last && this.ts[this.lo]! < from) this.addAt(this.lo++, -1)
    }
    return { sums: this.sums, first: this.ts[this.lo]! }
  }

  /** Sums over [from, to] computed afresh (a late reading's own window). */
  windowAt(from: number, to: number): { sums: Sums; first: number } {
    const s: Sums = { n: 0, sx: 0, sy: 0, sxx: 0, sxy: 0 }
    const start = this.lowerBound(from)
    for (let i = start; i < this.ts.length && this.ts[i]! <= to; i++) {
      const x = (this.ts[i]! - to) / HOUR
      const y = this.v[i]!
      s.n++
      s.sx += x
      s.sy += y
      s.sxx += x * x
      s.sxy += x * y
    }
    return { sums: s, first: this.ts[start] ?? Infinity }
  }
}

export function memoryRiseRate(opts: { maxDevices?: number; maxSamples?: number; minSpanFraction?: number } = {}): RiseRateState {
  const maxSamples = opts.maxSamples ?? 2000
  const minSpanFraction = opts.minSpanFraction ?? 1 / 6
  const series = new BoundedMap<string, Series>(opts.maxDevices ?? 10_000)
  return {
    add(device, ts, level, windowMs) {
      let s = series.get(device)
      if (!s) {
        s = new Series()
        series.set(device, s)
      }
      const how = s.put(ts, level)
      s.trim(2 * windowMs, maxSamples)
      const from = ts - windowMs
      const w = how === 'appended' ? s.windowOfNewest(from) : s.windowAt(from, ts)
      const { n, sx, sy, sxx, sxy } = w.sums
      if (n < 2 || ts - w.first < windowMs * minSpanFraction) return undefined
      const den = n * sxx - sx * sx
      if (!(den > 1e-12 * n * n)) return undefined
      return (n * sxy - sx * sy) / den
    },
  }
}
