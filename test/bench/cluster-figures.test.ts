// The cluster bench's arithmetic (bench/cluster.ts, bench/README.md "cluster"): a failover counts
// only when every publisher was acknowledged again, and goal lines say met or not met.
import { describe, expect, it } from 'vitest'
import { cpuPerReadingUs, failoverMs, failoverSummary, goalLine } from '../../bench/_cluster-figures.ts'

describe('cluster bench figures', () => {
  it('failover is the latest first acknowledgement after the kill', () => {
    expect(failoverMs(1000, [1200, 7400, 3000])).toBe(6400)
  })

  it('a publisher never acknowledged again makes the failover incomplete, not fast', () => {
    expect(failoverMs(1000, [1200, undefined])).toBeUndefined()
    expect(failoverMs(1000, [])).toBeUndefined()
    // An acknowledgement from before the kill is not a failover.
    expect(failoverMs(1000, [900, 1500])).toBeUndefined()
  })

  it('summarises completed failovers and counts the incomplete apart', () => {
    expect(failoverSummary([4000, undefined, 6000, 5000, 9000])).toEqual({ p50: 5000, p99: 9000, done: 4, failed: 1 })
    const none = failoverSummary([undefined])
    expect(none.done).toBe(0)
    expect(none.failed).toBe(1)
    expect(Number.isNaN(none.p99)).toBe(true)
  })

  it('CPU per stored reading in µs', () => {
    // 1.5 cores for 10 s over 300,000 readings: 50 µs each.
    expect(cpuPerReadingUs(1.5, 10, 300_000)).toBeCloseTo(50)
    expect(Number.isNaN(cpuPerReadingUs(1, 10, 0))).toBe(true)
  })

  it('goal lines', () => {
    expect(goalLine('ratio', 1.39, 'x', '≤', 1.4)).toBe('goal: ratio 1.39x (≤ 1.4x): met')
    expect(goalLine('ratio', 1.41, 'x', '≤', 1.4)).toBe('goal: ratio 1.41x (≤ 1.4x): NOT MET')
    expect(goalLine('p99', 10, ' s', '<', 10)).toBe('goal: p99 10.00 s (< 10 s): NOT MET')
    expect(goalLine('p99', Number.POSITIVE_INFINITY, ' s', '<', 10)).toBe('goal: p99 no figure (< 10 s): NOT MET')
  })
})
