import { BoundedMap } from './lru.ts'

// Rate of rise of a water level (m/h) over a window, per device. Least-squares slope rather than
// first-to-last difference: one noisy sample at either end must not fake a fast rise. Computed
// in event time, so a replayed reading gets the rate of its own moment.

export interface RiseRateState {
  /** Records a level at `ts` and returns the slope over [ts - windowMs, ts], or undefined. */
  add(device: string, ts: number, level: number, windowMs: number): number | undefined
}

export function memoryRiseRate(opts: { maxDevices?: number; maxSamples?: number; minSpanFraction?: number } = {}): RiseRateState {
  const maxSamples = opts.maxSamples ?? 2000
  const minSpanFraction = opts.minSpanFraction ?? 1 / 6
  const series = new BoundedMap<string, Array<{ ts: number; v: number }>>(opts.maxDevices ?? 10_000)
  return {
    add(device, ts, level, windowMs) {
      let s = series.get(device)
      if (!s) {
        s = []
        series.set(device, s)
      }
      // Insert in time order (readings may arrive late or out of order).
      let i = s.length
      while (i > 0 && s[i - 1]!.ts > ts) i--
      if (i > 0 && s[i - 1]!.ts === ts) s[i - 1]!.v = level
      else s.splice(i, 0, { ts, v: level })
      const newest = s[s.length - 1]!.ts
      let drop = 0
      while (drop < s.length && (s[drop]!.ts < newest - 2 * windowMs || s.length - drop > maxSamples)) drop++
      if (drop > 0) s.splice(0, drop)

      const from = ts - windowMs
      let n = 0
      let sx = 0
      let sy = 0
      let sxx = 0
      let sxy = 0
      let first = Infinity
      for (const p of s) {
        if (p.ts < from || p.ts > ts) continue
        const x = (p.ts - ts) / 3_600_000
        n++
        sx += x
        sy += p.v
        sxx += x * x
        sxy += x * p.v
        if (p.ts < first) first = p.ts
      }
      if (n < 2 || ts - first < windowMs * minSpanFraction) return undefined
      const den = n * sxx - sx * sx
      if (den === 0) return undefined
      return (n * sxy - sx * sy) / den
    },
  }
}
