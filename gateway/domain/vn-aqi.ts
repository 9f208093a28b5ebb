// VN_AQI exactly as Decision 1459/QĐ-TCMT (12/11/2019) of the Vietnam Environment Administration,
// "Hướng dẫn kỹ thuật tính toán và công bố chỉ số chất lượng không khí Việt Nam". Section numbers
// below refer to that guide. Pure functions: state (hourly means) lives in aqi-state.ts.

export const AQI_POLLUTANTS = ['pm25', 'pm10', 'o3', 'no2', 'so2', 'co'] as const
export type AqiPollutant = (typeof AQI_POLLUTANTS)[number]

/** Table 2 columns (µg/m³). `o3_8h` ends at I = 300: above 400 µg/m³ the 8-hour value is not used. */
export type BreakpointColumn = 'o3_1h' | 'o3_8h' | 'co' | 'so2' | 'no2' | 'pm10' | 'pm25'

const I = [0, 50, 100, 150, 200, 300, 400, 500] as const

export const BREAKPOINTS: Record<BreakpointColumn, readonly number[]> = {
  o3_1h: [0, 160, 200, 300, 400, 800, 1000, 1200],
  o3_8h: [0, 100, 120, 170, 210, 400],
  co: [0, 10_000, 30_000, 45_000, 60_000, 90_000, 120_000, 150_000],
  so2: [0, 125, 350, 550, 800, 1600, 2100, 2630],
  no2: [0, 100, 200, 700, 1200, 2350, 3100, 3850],
  pm10: [0, 50, 150, 250, 350, 420, 500, 600],
  pm25: [0, 25, 50, 80, 150, 250, 350, 500],
}

/**
 * Formula 1/2 of §2.2.1b: linear between breakpoints BP[i] ≤ C < BP[i+1]. Unrounded. The last row
 * of Table 2 reads "≥" (e.g. PM2.5 ≥ 500 → 500), so a concentration past the top is 500. Returns
 * undefined for a negative or non-finite concentration and, for O3 8h, past its last breakpoint.
 */
export function subIndex(column: BreakpointColumn, c: number): number | undefined {
  if (!Number.isFinite(c) || c < 0) return undefined
  const bp = BREAKPOINTS[column]
  const top = bp.length - 1
  if (c >= bp[top]!) return column === 'o3_8h' ? (c > bp[top]! ? undefined : I[top]!) : I[top]!
  let i = 0
  while (c >= bp[i + 1]!) i++
  return ((I[i + 1]! - I[i]!) / (bp[i + 1]! - bp[i]!)) * (c - bp[i]!) + I[i]!
}

/**
 * NowCast of §2.2.1a. `hours[0]` is c1 (the current hour's mean), `hours[11]` is c12; a missing
 * hour is undefined/null and gets weight 0. Needs at least 2 of c1..c3, else undefined.
 */
export function nowcast(hours: ReadonlyArray<number | null | undefined>): number | undefined {
  const c = hours.slice(0, 12)
  const present = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x)
  if ([c[0], c[1], c[2]].filter(present).length < 2) return undefined
  const values = c.filter(present)
  const cmax = Math.max(...values)
  const cmin = Math.min(...values)
  if (cmax <= 0) return 0
  const wStar = cmin / cmax
  const w = wStar <= 0.5 ? 0.5 : wStar
  if (w > 0.5) {
    let num = 0
    let den = 0
    c.forEach((ci, i) => {
      if (!present(ci)) return
      num += w ** i * ci
      den += w ** i
    })
    return num / den
  }
  // w = 1/2: the guide writes Σ (1/2)^i·ci without dividing by the weights; followed as written.
  let sum = 0
  c.forEach((ci, i) => {
    if (present(ci)) sum += 0.5 ** (i + 1) * ci
  })
  return sum
}

export interface AqiResult {
  /** Rounded to an integer (§2.2.1c, §2.2.2c). */
  aqi: number
  dominant: AqiPollutant
  /** Unrounded sub-index per pollutant that had data. */
  subIndices: Partial<Record<AqiPollutant, number>>
}

/** The sub-index of a concentration in a column of Table 2; undefined when it was not measured. */
function indexOf(column: BreakpointColumn, c: number | undefined): number | undefined {
  return c === undefined ? undefined : subIndex(column, c)
}

/** The AQI of the pollutants that have a sub-index (§2.2.1c, §2.2.2c): the largest, and whose it is. */
function combine(indices: Record<AqiPollutant, number | undefined>): AqiResult | undefined {
  const sub: Partial<Record<AqiPollutant, number>> = {}
  for (const [p, v] of Object.entries(indices) as Array<[AqiPollutant, number | undefined]>) if (v !== undefined) sub[p] = v
  // §2.1b: at least one of PM10 or PM2.5 must be part of the calculation.
  if (sub.pm25 === undefined && sub.pm10 === undefined) return undefined
  let dominant: AqiPollutant | undefined
  let best = -Infinity
  for (const p of AQI_POLLUTANTS) {
    const v = sub[p]
    if (v !== undefined && v > best) {
      best = v
      dominant = p
    }
  }
  if (dominant === undefined) return undefined
  return { aqi: Math.round(best), dominant, subIndices: sub }
}

export interface HourlyInputs {
  /** Last 12 hourly means of PM2.5 / PM10, c1 first (for NowCast). */
  pm25?: ReadonlyArray<number | null | undefined>
  pm10?: ReadonlyArray<number | null | undefined>
  /** Current 1-hour means. */
  o3?: number | undefined
  no2?: number | undefined
  so2?: number | undefined
  co?: number | undefined
}

/** Hourly AQI (AQI^h, §2.2.1). */
export function hourlyAqi(inp: HourlyInputs): AqiResult | undefined {
  return combine({
    pm25: indexOf('pm25', inp.pm25 && nowcast(inp.pm25)),
    pm10: indexOf('pm10', inp.pm10 && nowcast(inp.pm10)),
    o3: indexOf('o3_1h', inp.o3),
    no2: indexOf('no2', inp.no2),
    so2: indexOf('so2', inp.so2),
    co: indexOf('co', inp.co),
  })
}

export interface DailyInputs {
  /** 24-hour means (hours 01:00 to 00:00). */
  pm25_24h?: number | undefined
  pm10_24h?: number | undefined
  o3_max1h?: number | undefined
  o3_max8h?: number | undefined
  no2_max1h?: number | undefined
  so2_max1h?: number | undefined
  co_max1h?: number | undefined
}

/** Daily AQI (AQI^d, §2.2.2). */
export function dailyAqi(inp: DailyInputs): AqiResult | undefined {
  // O3: the larger of the 1-hour and 8-hour sub-indices; the 8-hour one is not used when the day's
  // max 8-hour mean exceeds 400 µg/m³ (§2.2.2b).
  const o3h = indexOf('o3_1h', inp.o3_max1h)
  const o38 = inp.o3_max8h !== undefined && inp.o3_max8h <= 400 ? subIndex('o3_8h', inp.o3_max8h) : undefined
  return combine({
    pm25: indexOf('pm25', inp.pm25_24h),
    pm10: indexOf('pm10', inp.pm10_24h),
    o3: o3h !== undefined || o38 !== undefined ? Math.max(o3h ?? -Infinity, o38 ?? -Infinity) : undefined,
    no2: indexOf('no2', inp.no2_max1h),
    so2: indexOf('so2', inp.so2_max1h),
    co: indexOf('co', inp.co_max1h),
  })
}

export interface AqiBand {
  min: number
  max: number
  vi: string
  en: string
  rgb: readonly [number, number, number]
}

/** Table 1 of the guide. */
export const AQI_BANDS: readonly AqiBand[] = [
  { min: 0, max: 50, vi: 'Tốt', en: 'Good', rgb: [0, 228, 0] },
  { min: 51, max: 100, vi: 'Trung bình', en: 'Moderate', rgb: [255, 255, 0] },
  { min: 101, max: 150, vi: 'Kém', en: 'Poor', rgb: [255, 126, 0] },
  { min: 151, max: 200, vi: 'Xấu', en: 'Bad', rgb: [255, 0, 0] },
  { min: 201, max: 300, vi: 'Rất xấu', en: 'Very bad', rgb: [143, 63, 151] },
  { min: 301, max: 500, vi: 'Nguy hại', en: 'Hazardous', rgb: [126, 0, 35] },
]

export function aqiBand(aqi: number): AqiBand {
  const r = Math.round(aqi)
  return AQI_BANDS.find((b) => r <= b.max) ?? AQI_BANDS[AQI_BANDS.length - 1]!
}
