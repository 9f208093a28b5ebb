// The demo's flood, scripted in seconds since the field started so that a visitor sees it at
// once: readings carry the wall-clock time (live, never `late`), and the Kim Long gauge crosses
// level I and then level II (config/stations.yaml: I 1.00 m, II 2.00 m, III 3.50 m; Decision
// 05/2020/QĐ-TTg) within the first RISE_S seconds. The alert engine works in event time, so the
// demo also shortens the rules' minimum durations to DEMO_MIN_DURATION_S (see field.ts).

/** Seconds the first rise takes: level II is crossed about two thirds of the way. */
export const RISE_S = 30
/** One flood: rise, crest, recession, low water; then the next flood. */
export const CYCLE_S = 600
/** Minimum duration (s) of the water-level and rise-rate rules while the demo runs. */
export const DEMO_MIN_DURATION_S = 10

export interface Hydrograph {
  base: number
  /** Reached at 40 % of the rise: above level I, so level I holds for a while before level II. */
  mid: number
  crest: number
  /** Seconds after the field starts before this river rises. */
  delayS: number
  riseS: number
  crestS: number
  fallS: number
}

/**
 * Kim Long on the Hương: level I crossed at about 6 s, level II at about 21 s, so with the
 * demo's 10 s minimum duration the alert opens at I (~16 s) and is raised to II (~31 s); the crest
 * stays in level II (2.42-2.58 m, above 2.00 m less the 0.10 m hysteresis).
 */
export const KIM_LONG: Hydrograph = { base: 0.6, mid: 1.5, crest: 2.5, delayS: 0, riseS: RISE_S, crestS: 300, fallS: 180 }
/** Phú Ốc on the Bồ (I 1.50 m, II 3.00 m): rises later and slower, to level II. */
export const PHU_OC: Hydrograph = { base: 1.0, mid: 2.2, crest: 3.3, delayS: 20, riseS: 90, crestS: 240, fallS: 180 }

const smooth = (x: number) => {
  const t = Math.min(1, Math.max(0, x))
  return t * t * (3 - 2 * t)
}

/** Water level (m) `s` seconds after the field started. */
export function waterLevel(h: Hydrograph, s: number): number {
  if (s < h.delayS) return h.base
  const c = (s - h.delayS) % CYCLE_S
  const span = h.crest - h.base
  const first = 0.4 * h.riseS
  if (c < first) return h.base + (h.mid - h.base) * smooth(c / first)
  if (c < h.riseS) return h.mid + (h.crest - h.mid) * smooth((c - first) / (h.riseS - first))
  if (c < h.riseS + h.crestS) return h.crest + 0.08 * Math.sin((2 * Math.PI * (c - h.riseS)) / 120)
  if (c < h.riseS + h.crestS + h.fallS) return h.crest - span * smooth((c - h.riseS - h.crestS) / h.fallS)
  return h.base
}

/** Rain intensity (mm/h) `s` seconds after the start: heavy while the rivers rise, easing after. */
export function rainIntensity(s: number): number {
  const c = s % CYCLE_S
  return 80 * Math.exp(-((c - 60) ** 2) / (2 * 90 ** 2))
}
