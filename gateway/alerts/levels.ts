// Leveled conditions with hysteresis and a minimum duration, in event time.
//
// A condition has ascending thresholds t1 < t2 < ... (a missing one is skipped). The target level
// from a value v while the current level is c:
//   the highest k with v >= t_k (entering k), or with k <= c and v >= t_k - h (staying at k).
// So a level is entered at its threshold and left only below threshold - hysteresis: a gauge
// wobbling around a level does not flap. A change of level in one direction is applied only when
// the target has stayed on that side of the current level for `minDurationMs` of event time.

export interface LevelState {
  level: number
  /** Since when (event ms) the target has been above (dir 1) or below (dir -1) the level. */
  pending?: { dir: 1 | -1; since: number } | undefined
  /** Event time of the latest input taken into account. */
  lastTs: number
  /** Id of the alert this state drives, null when none is active (e.g. resolved by an officer). */
  alertId?: string | null | undefined
}

export function targetLevel(
  value: number,
  thresholds: ReadonlyArray<number | null | undefined>,
  hysteresis: number,
  current: number,
): number {
  let target = 0
  for (let i = 0; i < thresholds.length; i++) {
    const t = thresholds[i]
    if (t === null || t === undefined) continue
    const k = i + 1
    if (value >= t || (k <= current && value >= t - hysteresis)) target = Math.max(target, k)
  }
  return target
}

/**
 * Advances the state with a new target at event time ts. Returns the level to apply when it
 * changes, else undefined. Mutates `st`.
 */
export function stepLevel(st: LevelState, target: number, ts: number, minDurationMs: number): number | undefined {
  st.lastTs = Math.max(st.lastTs, ts)
  if (target === st.level) {
    st.pending = undefined
    return undefined
  }
  const dir: 1 | -1 = target > st.level ? 1 : -1
  if (!st.pending || st.pending.dir !== dir) st.pending = { dir, since: ts }
  if (ts - st.pending.since >= minDurationMs) {
    st.level = target
    st.pending = undefined
    return target
  }
  return undefined
}

export function newLevelState(): LevelState {
  return { level: 0, lastTs: 0, alertId: null }
}
