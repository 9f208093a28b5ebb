import { AQI_BANDS, aqiBand } from '../../../domain/vn-aqi.ts'
import type { Alert } from './alerts.ts'
import { allPages, api } from './api.ts'
import type { Lang, Translate } from './i18n.ts'

// What the Stations pages show (docs/console.md, "Stations"): the stations of GET /stations
// (alarm levels of Decision 05/2020/QĐ-TTg), the devices and their newest values
// (GET /devices, GET /readings/latest) and a device's series (GET /devices/:id/readings). The API
// applies the user's scope to each of them.

export type LevelName = 'I' | 'II' | 'III'

export interface StationLevel {
  level: LevelName
  value: number | null
  name_vi: string
  name_en: string
  to_confirm: boolean
}

export interface Station {
  id: string
  name: string
  river: string | null
  district: string | null
  location: { lat: number; lon: number } | null
  kind: 'water_level'
  unit: string
  levels: StationLevel[]
  devices: string[]
}

export interface Device {
  id: string
  kind: 'water_level' | 'rain_gauge' | 'air_quality' | 'camera'
  name: string
  station: string | null
  district: string | null
  location: { lat: number; lon: number } | null
}

export interface Latest {
  device: string
  ts: string
  values: Record<string, number | string | boolean>
}

export const loadStations = async () => (await api.get<{ items: Station[] }>('/stations')).items
export const loadDevices = () => allPages<Device>('/devices?state=active')
export const loadLatest = () => allPages<Latest>('/readings/latest')
export const loadStationAlerts = (station: Station | null, device: string) =>
  allPages<Alert>(station ? `/alerts?station=${encodeURIComponent(station.id)}` : `/alerts?device=${encodeURIComponent(device)}`)

/** The metric a device's chart and list show, with its unit. Cameras have none here. */
export function mainMetric(kind: Device['kind']): { metric: string; unit: string } | null {
  if (kind === 'water_level') return { metric: 'water_level', unit: 'm' }
  if (kind === 'air_quality') return { metric: 'aqi', unit: '' }
  if (kind === 'rain_gauge') return { metric: 'rainfall', unit: 'mm' }
  return null
}

/**
 * The level of a value, as a CSS class and words. Water: the alarm level the gateway derived
 * (Decision 05/2020/QĐ-TTg defines levels I-III but no colours: yellow, orange and red are the
 * console's, and the level is always written out too). AQI: the VN_AQI band of Decision
 * 1459/QĐ-TCMT, Table 1, in that Decision's colours (green, yellow, orange, red, purple, maroon).
 */
export function levelOf(
  t: Translate,
  lang: Lang,
  kind: Device['kind'],
  values: Latest['values'] | undefined,
  station: Station | undefined,
): { cls: string; text: string } | null {
  if (!values) return null
  if (kind === 'water_level') {
    let level = typeof values.alarm_level === 'number' ? values.alarm_level : undefined
    const v = values.water_level
    if (level === undefined && typeof v === 'number' && station) {
      level = 0
      for (const [i, l] of station.levels.entries()) if (l.value !== null && v >= l.value) level = i + 1
      if (station.levels.every((l) => l.value === null)) level = undefined
    }
    if (level === undefined) return null
    const roman = (['I', 'II', 'III'] as const)[level - 1]
    return roman ? { cls: `lvl-${level}`, text: t('alert.level', { level: roman }) } : { cls: 'lvl-0', text: t('stations.belowI') }
  }
  if (kind === 'air_quality' && typeof values.aqi === 'number') {
    const band = aqiBand(values.aqi)
    return {
      cls: `aqi-${AQI_BANDS.indexOf(band) + 1}`,
      text: t('stations.aqi', { value: Math.round(values.aqi), band: lang === 'vi' ? band.vi : band.en }),
    }
  }
  return null
}

/**
 * A sensor is silent past the silence rule's expected interval (900 s, config/rules.yaml,
 * `silence-sensors`): the same line the alerts draw.
 */
export const SILENT_AFTER_MS = 900_000

export function isSilent(ts: string | undefined, now: number): boolean {
  return !ts || now - Date.parse(ts) > SILENT_AFTER_MS
}
