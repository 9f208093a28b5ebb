import type { DetectionEvent, Reading } from '../bus/events.ts'
import { ROMAN, type Stations } from '../domain/stations.ts'
import type { AqiBand, Congestion, Rainfall, RiseRate, Rule, WaterAlarm, WaterRatio } from './rules.ts'
import type { AlertKind, Severity, Subject } from './types.ts'
import { AQI_BANDS } from '../domain/vn-aqi.ts'

// Turns one input (a reading or a detection) into the value a rule compares with its thresholds.
// Pure apart from the per-subject `data` the condition keeps in its persisted state.

export interface Evaluation {
  subject: Subject
  ts: number
  value: number
  thresholds: ReadonlyArray<number | null>
  hysteresis: number
  minDurationMs: number
  severities: readonly Severity[]
  unit: string
}

export interface Condition {
  rule: Rule
  kind: AlertKind
  /**
   * What the condition reads: readings carrying `metric`, or detections. The engine offers it
   * nothing else (a reading goes past every rule of the fleet, most of which read other metrics).
   */
  consumes: { type: 'reading'; metric: string } | { type: 'detection' }
  /**
   * The evaluation of this input, if it has one; `data(subjectKey)` holds this rule's persisted
   * extra state for the subject. Runs for every reading, so it allocates as little as it can.
   */
  evaluate(input: Input, data: (subjectKey: string) => { data?: unknown }): Evaluation | undefined
  /** Human title in Vietnamese for a level (1-based) and value. */
  title(subject: Subject, level: number, value: number): string
}

export type Input = { type: 'reading'; reading: Reading } | { type: 'detection'; detection: DetectionEvent }

const DEFAULT_MIN_DURATION_S: Record<string, number> = {
  water_alarm: 300,
  rise_rate: 600,
  rainfall: 0,
  aqi_band: 900,
  congestion: 300,
  water_ratio: 120,
}

const minDuration = (rule: Rule): number =>
  ('min_duration_s' in rule && rule.min_duration_s !== undefined ? rule.min_duration_s : (DEFAULT_MIN_DURATION_S[rule.type] ?? 0)) * 1000

const allows = (list: readonly string[] | undefined, id: string | null | undefined): boolean =>
  !list || list.length === 0 || list.includes('*') || (id !== null && id !== undefined && list.includes(id))

const fmt = (v: number, digits = 2) => v.toFixed(digits).replace('.', ',')

// One Subject per station (or device without one), made once: conditions ask for it on every
// reading, and callers only read it. Made again when the district changes. Bounded by the fleet;
// cleared past 100k entries.
const stationSubjects = new Map<string, Subject>()
const deviceSubjects = new Map<string, Subject>()
export function stationSubject(r: Reading): Subject {
  const cache = r.station ? stationSubjects : deviceSubjects
  const id = r.station ?? r.device
  const district = r.district ?? undefined
  let s = cache.get(id)
  if (!s || s.district !== district) {
    if (cache.size > 100_000) cache.clear()
    s = r.station
      ? { key: `station:${r.station}`, station: r.station, district }
      : { key: `device:${r.device}`, device: r.device, district }
    cache.set(id, s)
  }
  return s
}

function placeName(stations: Stations, s: Subject): string {
  if (s.station) return stations.get(s.station)?.name ?? s.station
  return s.zone ? `${s.device ?? ''}/${s.zone}` : (s.device ?? '')
}

export function compileConditions(rules: readonly Rule[], stations: Stations): Condition[] {
  const out: Condition[] = []
  for (const rule of rules) {
    if (rule.enabled === false) continue
    const c = compile(rule, stations)
    if (c) out.push(c)
  }
  return out
}

function compile(rule: Rule, stations: Stations): Condition | undefined {
  const md = minDuration(rule)
  switch (rule.type) {
    case 'water_alarm':
      return waterAlarm(rule, stations, md)
    case 'rise_rate':
      return riseRate(rule, stations, md)
    case 'rainfall':
      return rainfall(rule, stations, md)
    case 'aqi_band':
      return aqiBand(rule, stations, md)
    case 'congestion':
    case 'water_ratio':
      return camera(rule, md)
    case 'silence':
      return undefined // driven by the clock, see silence.ts
  }
}

// A station's alarm levels as thresholds, made once per levels object (a stations reload makes new
// ones): this runs for every water-level reading.
// A station without any level set gets none (undefined).
const thresholdsOf = new WeakMap<object, ReadonlyArray<number | null> | null>()
function alarmThresholds(
  lv: { I: number | null; II: number | null; III: number | null } | undefined,
): ReadonlyArray<number | null> | undefined {
  if (!lv) return undefined
  let t = thresholdsOf.get(lv)
  if (t === undefined)
    thresholdsOf.set(lv, (t = lv.I === null && lv.II === null && lv.III === null ? null : Object.freeze([lv.I, lv.II, lv.III])))
  return t ?? undefined
}

type SubjectData = Parameters<Condition['evaluate']>[1]

/** A condition on readings that carry `metric`: `evaluate` sees only those, with the metric's value. */
function onReadings(
  rule: Rule,
  kind: AlertKind,
  metric: string,
  evaluate: (r: Reading, value: number, data: SubjectData) => Evaluation | undefined,
  title: Condition['title'],
): Condition {
  return {
    rule,
    kind,
    consumes: { type: 'reading', metric },
    evaluate(input, data) {
      if (input.type !== 'reading') return undefined
      const value = input.reading.values[metric]
      return value === undefined ? undefined : evaluate(input.reading, value, data)
    },
    title,
  }
}

function waterAlarm(rule: WaterAlarm, stations: Stations, md: number): Condition {
  const severities = rule.severities ?? (['minor', 'major', 'critical'] as const)
  return onReadings(
    rule,
    'water_level',
    'water_level',
    (r, v) => {
      if (r.kind !== 'water_level' || !r.station || !allows(rule.stations, r.station)) return undefined
      // A rule's own levels are three numbers (rules.ts); a station's may all be unset.
      const thresholds = rule.levels?.[r.station] ?? alarmThresholds(stations.get(r.station)?.levels)
      if (!thresholds) return undefined
      return {
        subject: stationSubject(r),
        ts: r.ts,
        value: v,
        thresholds,
        hysteresis: rule.hysteresis_m,
        minDurationMs: md,
        severities,
        unit: 'm',
      }
    },
    (s, level, value) => {
      const st = s.station ? stations.get(s.station) : undefined
      const where = st?.river ? `${placeName(stations, s)} (${st.river})` : placeName(stations, s)
      return `${where}: mực nước ${fmt(value)} m, vượt báo động ${ROMAN[level] ?? level}`
    },
  )
}

interface Samples {
  s: Array<[number, number]>
}

function riseRate(rule: RiseRate, stations: Stations, md: number): Condition {
  const windowMs = rule.window_s * 1000
  const spacing = windowMs / 200
  const severities = [rule.severity ?? 'major'] as const
  return onReadings(
    rule,
    'rise_rate',
    'water_level',
    (r, v, data) => {
      if (r.kind !== 'water_level' || !allows(rule.stations, r.station)) return undefined
      const threshold = rule.threshold_m_per_h ?? stations.get(r.station)?.rise_alert_m_per_h
      if (threshold === undefined) return undefined
      const subject = stationSubject(r)
      const holder = data(subject.key)
      const d = (holder.data as Samples | undefined) ?? { s: [] }
      holder.data = d
      // Keep samples in time order, thinned to `spacing`, over the window (bounded: ~200 points).
      const last = d.s[d.s.length - 1]
      if (!last || r.ts >= last[0] + spacing) d.s.push([r.ts, v])
      else if (r.ts >= last[0]) {
        last[0] = r.ts
        last[1] = v
      } else return undefined // older than the newest sample: already covered
      while (d.s.length > 0 && (d.s[0] as [number, number])[0] < r.ts - windowMs) d.s.shift()
      const first = d.s[0]
      if (!first || d.s.length < 2 || r.ts - first[0] < windowMs / 2) return undefined
      // Least-squares slope: one noisy sample at either end must not fake a fast rise.
      let n = 0,
        sx = 0,
        sy = 0,
        sxx = 0,
        sxy = 0
      for (const [t, y] of d.s) {
        const x = (t - r.ts) / 3_600_000
        n++
        sx += x
        sy += y
        sxx += x * x
        sxy += x * y
      }
      const den = n * sxx - sx * sx
      if (den === 0) return undefined
      const slope = (n * sxy - sx * sy) / den
      return {
        subject,
        ts: r.ts,
        value: slope,
        thresholds: [threshold],
        hysteresis: rule.hysteresis_m_per_h,
        minDurationMs: md,
        severities,
        unit: 'm/h',
      }
    },
    (s, _level, value) => `${placeName(stations, s)}: nước lên nhanh ${fmt(value)} m/giờ`,
  )
}

/**
 * Rain in the window as 60 time buckets of window/60 (bounded state whatever the reporting rate:
 * the window edge moves in steps of window/60), plus the last event times per device so that a
 * replayed or duplicated reading is counted once.
 */
interface RainData {
  b: Record<string, number>
  recent: Record<string, number[]>
}
const RAIN_BUCKETS = 60
const RECENT_PER_DEVICE = 64

function rainfall(rule: Rainfall, stations: Stations, md: number): Condition {
  const windowMs = rule.window_s * 1000
  const bucketMs = windowMs / RAIN_BUCKETS
  const severities = rule.severities ?? (['minor', 'major', 'critical'] as const).slice(0, rule.thresholds_mm.length)
  const hours = rule.window_s / 3600
  return onReadings(
    rule,
    'rainfall',
    'rainfall',
    (r, mm, data) => {
      if (!allows(rule.stations, r.station)) return undefined
      const subject = stationSubject(r)
      const holder = data(subject.key)
      const d = (holder.data as RainData | undefined) ?? { b: {}, recent: {} }
      holder.data = d
      const seen = (d.recent[r.device] ??= [])
      if (!seen.includes(r.ts)) {
        seen.push(r.ts)
        if (seen.length > RECENT_PER_DEVICE) seen.shift()
        const k = String(Math.floor(r.ts / bucketMs))
        d.b[k] = (d.b[k] ?? 0) + mm
      }
      const newest = Math.floor(Math.max(r.ts, ...seen) / bucketMs)
      let sum = 0
      for (const [k, v] of Object.entries(d.b)) {
        if (Number(k) <= newest - RAIN_BUCKETS) delete d.b[k]
        else sum += v
      }
      sum = Math.round(sum * 1000) / 1000
      return {
        subject,
        ts: r.ts,
        value: sum,
        thresholds: rule.thresholds_mm,
        hysteresis: rule.hysteresis_mm,
        minDurationMs: md,
        severities,
        unit: 'mm',
      }
    },
    (s, _level, value) =>
      `${placeName(stations, s)}: mưa ${fmt(value, 1)} mm trong ${hours >= 1 ? `${fmt(hours, 0)} giờ` : `${rule.window_s / 60} phút`}`,
  )
}

function aqiBand(rule: AqiBand, stations: Stations, md: number): Condition {
  // VN_AQI bands, Decision 1459/QĐ-TCMT: a band is entered at its lower bound.
  const bands = AQI_BANDS.filter((b) => b.min >= rule.min_aqi)
  const bySeverity: Record<number, Severity> = { 51: 'info', 101: 'minor', 151: 'major', 201: 'critical', 301: 'critical' }
  const thresholds = bands.map((b) => b.min)
  const severities = bands.map((b) => bySeverity[b.min] ?? 'minor')
  return onReadings(
    rule,
    'aqi',
    'aqi',
    (r, aqi) => {
      if (!allows(rule.stations, r.station)) return undefined
      return {
        subject: stationSubject(r),
        ts: r.ts,
        value: aqi,
        thresholds,
        hysteresis: rule.hysteresis,
        minDurationMs: md,
        severities,
        unit: 'AQI',
      }
    },
    (s, level, value) => `${placeName(stations, s)}: chất lượng không khí ${bands[level - 1]?.vi ?? ''} (VN_AQI ${Math.round(value)})`,
  )
}

function camera(rule: Congestion | WaterRatio, md: number): Condition {
  const field = rule.type === 'congestion' ? 'congestion' : 'water_ratio'
  const severities = rule.severities ?? (['minor', 'major', 'critical'] as const).slice(0, rule.thresholds.length)
  return {
    rule,
    kind: rule.type === 'congestion' ? 'congestion' : 'water_in_zone',
    consumes: { type: 'detection' },
    evaluate(input) {
      if (input.type !== 'detection') return undefined
      const d = input.detection
      const v = d[field]
      if (v === undefined || !allows(rule.cameras, d.camera) || !allows(rule.zones, d.zone)) return undefined
      const subject: Subject = {
        key: `device:${d.camera}:${d.zone}`,
        device: d.camera,
        zone: d.zone,
        station: d.station ?? undefined,
        district: d.district ?? undefined,
      }
      return {
        subject,
        ts: d.ts,
        value: v,
        thresholds: rule.thresholds,
        hysteresis: rule.hysteresis,
        minDurationMs: md,
        severities,
        unit: rule.type === 'congestion' ? '' : '',
      }
    },
    title: (s, level, value) =>
      rule.type === 'congestion'
        ? `Camera ${s.device}, vùng ${s.zone}: ùn tắc giao thông mức ${level} (${fmt(value, 1)})`
        : `Camera ${s.device}, vùng ${s.zone}: nước ngập ${Math.round(value * 100)}% vùng theo dõi`,
  }
}
