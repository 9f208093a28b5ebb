import type { Report } from '../../../reports/types.ts'
import type { WaterSeries } from '../../../reports/view.ts'
import { API, api } from './api.ts'
import type { Lang } from './i18n.ts'
import { loadDevices, type Station } from './stations.ts'

// What the Reports page asks for (docs/console.md, "Reports"): the periods a leader picks, the
// report of GET /reports (docs/api.md) for a period and place, and each water-level station's
// hourly maxima for its chart (GET /devices/:id/readings, fn=max: a flood peak must not be
// averaged away). The API applies the user's scope to all of it.

export type Preset = 'today' | 'yesterday' | 'last24h' | 'last7d' | 'custom'
export const PRESETS: readonly Preset[] = ['today', 'yesterday', 'last24h', 'last7d', 'custom']

const HOUR = 3_600_000
const DAY = 24 * HOUR
/** Asia/Ho_Chi_Minh is UTC+7 all year (no daylight saving). */
const VN_OFFSET = 7 * HOUR

/** The period of a preset, half-open [from, to) in epoch ms; days are Vietnam's calendar days. */
export function presetRange(preset: Exclude<Preset, 'custom'>, now: number): { from: number; to: number } {
  const midnight = Math.floor((now + VN_OFFSET) / DAY) * DAY - VN_OFFSET
  if (preset === 'today') return { from: midnight, to: now }
  if (preset === 'yesterday') return { from: midnight - DAY, to: midnight }
  if (preset === 'last24h') return { from: now - DAY, to: now }
  return { from: now - 7 * DAY, to: now }
}

/** A datetime-local field's value (no zone) read as Vietnam time; NaN when empty or malformed. */
export function parseLocal(value: string): number {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(value) ? Date.parse(`${value}:00+07:00`) : Number.NaN
}

/** Epoch ms as a datetime-local value in Vietnam time. */
export function toLocal(ms: number): string {
  return new Date(ms + VN_OFFSET).toISOString().slice(0, 16)
}

export interface ReportQuery {
  from: number
  to: number
  district: string
  station: string
  lang: Lang
}

export function reportPath(q: ReportQuery, format?: 'pdf'): string {
  const p = new URLSearchParams({ from: new Date(q.from).toISOString(), to: new Date(q.to).toISOString(), lang: q.lang })
  if (q.district) p.set('district', q.district)
  if (q.station) p.set('station', q.station)
  if (format) p.set('format', format)
  return `/reports?${p.toString()}`
}

/** The PDF's address, for a plain link (the session cookie goes with it). */
export const reportPdfUrl = (q: ReportQuery) => `${API}${reportPath(q, 'pdf')}`

export const loadReport = (q: ReportQuery) => api.get<Report>(reportPath(q))

/** Hourly (or, over more than two days, three-hourly) maxima of each station's water-level devices. */
export async function loadWaterSeries(report: Report, stations: Station[]): Promise<WaterSeries> {
  const from = Date.parse(report.period.from)
  const to = Date.parse(report.period.to)
  const every = to - from > 2 * DAY ? '3h' : '1h'
  const devices = await loadDevices()
  const out: WaterSeries = {}
  for (const s of report.water_levels) {
    const station = stations.find((x) => x.id === s.station)
    const own = devices.filter((d) => d.kind === 'water_level' && (d.station === s.station || station?.devices.includes(d.id)))
    const device = own[0]
    if (!device) continue
    const q = `metric=water_level&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}&every=${every}&fn=max`
    const r = await api.get<{ points: Array<{ ts: string; value: number | string | boolean }> }>(
      `/devices/${encodeURIComponent(device.id)}/readings?${q}`,
    )
    out[s.station] = r.points.filter((p): p is { ts: string; value: number } => typeof p.value === 'number')
  }
  return out
}
