import { existsSync } from 'node:fs'
import { relative, resolve } from 'node:path'
import { loadStations, type Station } from '../../gateway/domain/stations.ts'
import { PACKAGE_ROOT } from '../../gateway/util/package-root.ts'

// Station alarm levels for the flood boards come from the same file the ingest uses to derive
// `alarm_level` (config/stations.yaml), so the lines on the chart and the levels in the data agree.
// When that file is absent the boards fall back to the levels of domain/stations.md
// (Decision 05/2020/QĐ-TTg), the same numbers the file ships with.

export interface StationLevels {
  id: string
  name: string
  river?: string
  /** Alarm levels I, II, III in metres above the gauge datum; null where not set. */
  levels: [number | null, number | null, number | null]
  toConfirm: string[]
  riseAlert?: number
}

const FALLBACK: StationLevels[] = [
  { id: 'kim-long', name: 'Kim Long', river: 'sông Hương', levels: [1.0, 2.0, 3.5], toConfirm: [], riseAlert: 0.3 },
  { id: 'phu-oc', name: 'Phú Ốc', river: 'sông Bồ', levels: [1.5, 3.0, 4.5], toConfirm: ['I'] },
  { id: 'thuong-nhat', name: 'Thượng Nhật', river: 'sông Tả Trạch', levels: [59.0, 61.0, 63.0], toConfirm: ['III'] },
]

/** The repository root: defaults resolve against it, so the commands work from any directory. */
export const REPO_ROOT = PACKAGE_ROOT

export const DEFAULT_STATIONS_FILE = resolve(REPO_ROOT, 'config/stations.yaml')

function fromStation(id: string, st: Station): StationLevels {
  const out: StationLevels = {
    id,
    name: st.name,
    levels: [st.levels?.I ?? null, st.levels?.II ?? null, st.levels?.III ?? null],
    toConfirm: [...(st.to_confirm ?? [])],
  }
  if (st.river !== undefined) out.river = st.river
  if (st.rise_alert_m_per_h !== undefined) out.riseAlert = st.rise_alert_m_per_h
  return out
}

/** Stations in file order; throws one line naming the key when the file is present but wrong. */
export function readStations(file = DEFAULT_STATIONS_FILE): { stations: StationLevels[]; source: string } {
  const path = resolve(file)
  if (!existsSync(path)) return { stations: FALLBACK.map((s) => ({ ...s })), source: `domain/stations.md (built in; ${file} not found)` }
  const all = loadStations(path).all()
  const shown = relative(REPO_ROOT, path)
  return { stations: Object.entries(all).map(([id, st]) => fromStation(id, st)), source: shown.startsWith('..') ? path : shown }
}

export function hasLevels(s: StationLevels): boolean {
  return s.levels.some((l) => l !== null)
}
