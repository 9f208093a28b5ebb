import type { DeviceKind } from '../registry/types.ts'

// Canonical metrics of docs/mqtt.md with their unit and a plausible range. The range is what a working
// sensor of that kind can report; anything outside it is a fault (wrong unit, stuck ADC, bit flip)
// and is refused rather than stored, so alerts and dashboards never see it.

export interface MetricSpec {
  /** Canonical unit, as docs/mqtt.md writes it. */
  unit: string
  /** SenML unit name (RFC 8428 §12.1 / RFC 8798) of the canonical unit. */
  senml: string
  min: number
  max: number
  /** Must be a whole number. */
  integer?: boolean
}

export const METRICS = {
  // Metres above the station's gauge datum; Thượng Nhật's datum gives ~60 m, so the range is wide.
  water_level: { unit: 'm', senml: 'm', min: -20, max: 200 },
  // Over `interval_s`; the world record hourly rainfall is ~305 mm, a day ~1,825 mm.
  rainfall: { unit: 'mm', senml: 'mm', min: 0, max: 2000 },
  interval_s: { unit: 's', senml: 's', min: 1, max: 86_400 },
  pm25: { unit: 'µg/m³', senml: 'ug/m3', min: 0, max: 5000 },
  pm10: { unit: 'µg/m³', senml: 'ug/m3', min: 0, max: 10_000 },
  no2: { unit: 'µg/m³', senml: 'ug/m3', min: 0, max: 20_000 },
  so2: { unit: 'µg/m³', senml: 'ug/m3', min: 0, max: 20_000 },
  o3: { unit: 'µg/m³', senml: 'ug/m3', min: 0, max: 10_000 },
  co: { unit: 'µg/m³', senml: 'ug/m3', min: 0, max: 500_000 },
  temperature: { unit: '°C', senml: 'Cel', min: -40, max: 85 },
  humidity: { unit: '%', senml: '%RH', min: 0, max: 100 },
  battery: { unit: 'V', senml: 'V', min: 0, max: 60 },
  rssi: { unit: 'dBm', senml: 'dBm', min: -150, max: 0 },
} as const satisfies Record<string, MetricSpec>

export type MetricName = keyof typeof METRICS

/** Metrics the gateway derives; a device that sends them is refused (they would be overwritten). */
export const DERIVED_METRICS = {
  alarm_level: { unit: '', min: 0, max: 3 },
  rise_rate: { unit: 'm/h', min: -1000, max: 1000 },
  aqi: { unit: '', min: 0, max: 500 },
} as const

/** Device health metrics any kind may send. */
const HEALTH: readonly MetricName[] = ['battery', 'rssi', 'temperature', 'humidity']

export const METRICS_BY_KIND: Record<DeviceKind, ReadonlySet<MetricName>> = {
  water_level: new Set<MetricName>(['water_level', ...HEALTH]),
  rain_gauge: new Set<MetricName>(['rainfall', 'interval_s', ...HEALTH]),
  air_quality: new Set<MetricName>(['pm25', 'pm10', 'no2', 'so2', 'o3', 'co', ...HEALTH]),
  camera: new Set<MetricName>([...HEALTH]),
}

export function isMetricName(name: string): name is MetricName {
  return Object.prototype.hasOwnProperty.call(METRICS, name)
}

/** Unit of a canonical or derived metric, for the readings API. */
export function unitOf(metric: string): string | undefined {
  if (isMetricName(metric)) return METRICS[metric].unit
  if (Object.prototype.hasOwnProperty.call(DERIVED_METRICS, metric)) return DERIVED_METRICS[metric as keyof typeof DERIVED_METRICS].unit
  return undefined
}
