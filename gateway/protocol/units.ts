import { METRICS, type MetricName } from './metrics.ts'

// SenML unit names (RFC 8428 §12.1 and the secondary units of RFC 8798) into each metric's
// canonical unit. Hand-written: the table is small and fixed by docs/mqtt.md; a general units library
// would not know the molar masses for ppb→µg/m³ nor SenML's spellings.

type Convert = (v: number) => number

const scale =
  (k: number): Convert =>
  (v) =>
    v * k
const identity: Convert = (v) => v

const LENGTH_TO_M: Record<string, number> = { m: 1, cm: 0.01, mm: 0.001, km: 1000 }
const LENGTH_TO_MM: Record<string, number> = { mm: 1, cm: 10, m: 1000 }

// Molar masses (g/mol) for volume-mixing ratios at 25 °C and 1 atm (molar volume 24.45 L), the
// reference conditions of Vietnamese ambient air standards (QCVN 05:2023/BTNMT).
const MOLAR_MASS: Partial<Record<MetricName, number>> = { no2: 46.0055, so2: 64.066, o3: 47.9982, co: 28.0101 }
const MOLAR_VOLUME_L = 24.45

function concentration(metric: MetricName, unit: string): Convert | undefined {
  switch (unit) {
    case 'ug/m3':
    case 'µg/m3':
      return identity
    case 'mg/m3':
      return scale(1000)
    case 'kg/m3':
      return scale(1e9)
    case 'ppb':
    case 'ppm': {
      const m = MOLAR_MASS[metric]
      if (m === undefined) return undefined // particles have no molar mass
      const ppb = unit === 'ppm' ? 1000 : 1
      return (v) => (v * ppb * m) / MOLAR_VOLUME_L
    }
    default:
      return undefined
  }
}

/** The converter from `unit` to `metric`'s canonical unit, or undefined when they do not match. */
export function converterFor(metric: MetricName, unit: string | undefined): Convert | undefined {
  if (unit === undefined || unit === '' || unit === METRICS[metric].senml) return identity
  switch (metric) {
    case 'water_level': {
      const k = LENGTH_TO_M[unit]
      return k === undefined ? undefined : scale(k)
    }
    case 'rainfall': {
      const k = LENGTH_TO_MM[unit]
      return k === undefined ? undefined : scale(k)
    }
    case 'interval_s': {
      const k = ({ s: 1, ms: 0.001, min: 60, h: 3600 } as Record<string, number>)[unit]
      return k === undefined ? undefined : scale(k)
    }
    case 'pm25':
    case 'pm10':
    case 'no2':
    case 'so2':
    case 'o3':
    case 'co':
      return concentration(metric, unit)
    case 'temperature':
      if (unit === 'K') return (v) => v - 273.15
      return undefined
    case 'humidity':
      return unit === '%' || unit === '%RH' ? identity : unit === '/' ? scale(100) : undefined
    case 'battery':
      return unit === 'mV' ? scale(0.001) : undefined
    case 'rssi':
      return unit === 'dBW' ? (v) => v + 30 : undefined
  }
}
