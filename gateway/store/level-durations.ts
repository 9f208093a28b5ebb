import type { LevelDurations } from './types.ts'

// The hold rule of LevelDurationsQuery (gateway/store/types.ts, docs/reports.md) over one group's
// points, for a store that cannot compute it where the data is (InfluxQL has no LEAD()).

/** How many of the ascending thresholds `v` reaches. */
export function levelOf(v: number, thresholds: readonly number[]): number {
  let n = 0
  for (const t of thresholds) if (v >= t) n++
  return n
}

/**
 * Points in time order (equal times allowed: the highest value counts); `to` ends the last hold.
 */
export function levelDurationsOf(
  points: ReadonlyArray<readonly [number, number]>,
  thresholds: readonly number[],
  holdMaxMs: number,
  to: number,
): Omit<LevelDurations, 'tags'> {
  const durations = new Array<number>(thresholds.length + 1).fill(0)
  const first = new Array<number | null>(thresholds.length + 1).fill(null)
  // Merge equal times, keeping the highest value.
  const ts: number[] = []
  const vs: number[] = []
  for (const [t, v] of points) {
    if (ts.length > 0 && ts[ts.length - 1] === t) vs[vs.length - 1] = Math.max(vs[vs.length - 1]!, v)
    else {
      ts.push(t)
      vs.push(v)
    }
  }
  for (let i = 0; i < ts.length; i++) {
    const level = levelOf(vs[i]!, thresholds)
    const next = i + 1 < ts.length ? ts[i + 1]! : to
    durations[level]! += Math.min(next - ts[i]!, holdMaxMs)
    if (first[level] === null) first[level] = ts[i]!
  }
  return { points: ts.length, durations, first }
}
