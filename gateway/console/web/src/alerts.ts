import { allPages, api } from './api.ts'

// The alert shape of docs/api.md ("Alerts"); the SSE `alert` event carries the same alert without
// its history, plus the change (one history entry).

export const KINDS = ['water_level', 'rise_rate', 'rainfall', 'aqi', 'silence', 'congestion', 'water_in_zone', 'webhook'] as const
export const SEVERITIES = ['info', 'minor', 'major', 'critical'] as const
export type Kind = (typeof KINDS)[number]
export type Severity = (typeof SEVERITIES)[number]
export type AlertState = 'open' | 'acknowledged' | 'resolved'
export type HistoryAction = 'opened' | 'raised' | 'lowered' | 'acknowledged' | 'resolved' | 'escalated'

export interface Who {
  by: string
  at: string
  note?: string
}

export interface HistoryEntry {
  seq: number
  at: string
  event_ts?: string
  action: HistoryAction
  severity: Severity
  level?: number
  value?: number
  state: AlertState
  by: string
  note?: string
  late?: boolean
  tier?: number
}

export interface Alert {
  id: string
  rule: string
  kind: Kind
  severity: Severity
  level?: number
  station?: string
  device?: string
  zone?: string
  district?: string
  value?: number
  threshold?: number
  unit?: string
  state: AlertState
  title: string
  late: boolean
  tier: number
  opened_at: string
  updated_at: string
  acknowledged?: Who
  resolved?: Who
  history?: HistoryEntry[]
}

export interface AlertEvent extends Alert {
  change: HistoryEntry
}

export interface Filters {
  kind: string
  station: string
  district: string
  severity: string
}

export const NO_FILTERS: Filters = { kind: '', station: '', district: '', severity: '' }

const rank = (s: Severity) => SEVERITIES.indexOf(s)

/** Most severe first, then newest opened first (the "newest and most severe first"). */
export function sortAlerts(alerts: Iterable<Alert>): Alert[] {
  return [...alerts].sort(
    (a, b) => rank(b.severity) - rank(a.severity) || b.opened_at.localeCompare(a.opened_at) || a.id.localeCompare(b.id),
  )
}

export function matches(a: Alert, f: Filters): boolean {
  return (
    (!f.kind || a.kind === f.kind) &&
    (!f.station || a.station === f.station) &&
    (!f.district || a.district === f.district) &&
    (!f.severity || a.severity === f.severity)
  )
}

/** A new alert, or one raised to major or critical: the officer must notice it now. */
export function needsAttention(e: AlertEvent): boolean {
  return (e.change.action === 'opened' || e.change.action === 'raised') && e.state === 'open' && rank(e.severity) >= rank('major')
}

/** Alerts in one state, following cursors up to a sane bound. */
function loadState(state: AlertState): Promise<Alert[]> {
  return allPages<Alert>(`/alerts?state=${state}`)
}

/** Open and acknowledged alerts: the board's content, both asked at once. */
export async function loadActive(): Promise<Alert[]> {
  const [open, acknowledged] = await Promise.all([loadState('open'), loadState('acknowledged')])
  return [...open, ...acknowledged]
}

export interface DeviceInfo {
  id: string
  name?: string
  station?: string | null
}

/** The devices (GET /devices): an officer knows "Trạm Kim Long", not kim-long-01. */
export function loadDevices(): Promise<DeviceInfo[]> {
  return allPages<DeviceInfo>('/devices?state=active')
}

/** The devices an alert is about: its own device, else the gauges of its station. */
export function devicesOf(a: Alert, devices: readonly DeviceInfo[]): DeviceInfo[] {
  if (a.device) return [devices.find((d) => d.id === a.device) ?? { id: a.device }]
  if (a.station) return devices.filter((d) => d.station === a.station)
  return []
}

export const loadAlert = (id: string) => api.get<Alert>(`/alerts/${encodeURIComponent(id)}`)

export const actOn = (id: string, action: 'ack' | 'resolve', note: string) =>
  api.post<Alert>(`/alerts/${encodeURIComponent(id)}/${action}`, note.trim() ? { note: note.trim() } : {})

export const romanLevel = (level: number) => ['I', 'II', 'III', 'IV'][level - 1] ?? String(level)
