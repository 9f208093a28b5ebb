import { describe, expect, it } from 'vitest'
import { memoryRiseRate } from '../../gateway/ingest/rise-rate.ts'

const HOUR = 3_600_000

/** The definition: least-squares slope (m/h) over the samples in [ts - w, ts], summed afresh. */
function reference(samples: ReadonlyArray<{ ts: number; v: number }>, ts: number, w: number, minSpan = 1 / 6): number | undefined {
  const pts = samples.filter((p) => p.ts >= ts - w && p.ts <= ts)
  if (pts.length < 2) return undefined
  if (ts - Math.min(...pts.map((p) => p.ts)) < w * minSpan) return undefined
  let n = 0
  let sx = 0
  let sy = 0
  let sxx = 0
  let sxy = 0
  for (const p of pts) {
    const x = (p.ts - ts) / HOUR
    n++
    sx += x
    sy += p.v
    sxx += x * x
    sxy += x * p.v
  }
  const den = n * sxx - sx * sx
  return den === 0 ? undefined : (n * sxy - sx * sy) / den
}

function lcg(seed: number): () => number {
  let s = seed
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
}

describe('rise rate (running least squares)', () => {
  it('equals the slope summed afresh, for readings in order, late, out of order and repeated', () => {
    const rnd = lcg(7)
    const rise = memoryRiseRate({ maxSamples: 1_000_000 })
    const kept: Array<{ ts: number; v: number }> = []
    let t = 1_700_000_000_000
    let compared = 0
    for (let i = 0; i < 6000; i++) {
      let ts = t
      if (rnd() < 0.05 && kept.length > 10) ts = t - Math.floor(rnd() * 2 * HOUR)
      else if (rnd() < 0.02)
        ts = t // same instant again: replaces the value
      else ts = t += Math.floor(rnd() * 60_000) + 1
      const v = 1 + Math.sin(i / 500) + rnd() * 0.01
      const same = kept.find((p) => p.ts === ts)
      if (same) same.v = v
      else kept.push({ ts, v })
      const got = rise.add('kim-long-1', ts, v, HOUR)
      const want = reference(
        kept.filter((p) => p.ts >= t - 2 * HOUR),
        ts,
        HOUR,
      )
      if (want === undefined) expect(got).toBeUndefined()
      else {
        compared++
        expect(got).toBeCloseTo(want, 9)
      }
    }
    expect(compared).toBeGreaterThan(5000)
  })

  it('keeps at most maxSamples per device, the newest', () => {
    const rise = memoryRiseRate({ maxSamples: 50 })
    const kept: Array<{ ts: number; v: number }> = []
    const t0 = 1_700_000_000_000
    for (let i = 0; i < 3000; i++) {
      const ts = t0 + i * 1000
      const v = 0.001 * i + (i % 7) * 0.01
      kept.push({ ts, v })
      const got = rise.add('d', ts, v, 60_000)
      const want = reference(kept.slice(-50), ts, 60_000)
      if (want === undefined) expect(got).toBeUndefined()
      else expect(got).toBeCloseTo(want, 9)
    }
  })
})
