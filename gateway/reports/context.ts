import type { Stations } from '../domain/stations.ts'
import { placeInScope, type Scope } from '../registry/scope.ts'
import type { SummaryQuery, SummaryRow, TimeSeriesStore } from '../store/types.ts'
import type { AtValue, ReportRequest } from './types.ts'

/** What every section of a report is computed from. */
export interface SectionContext {
  store: Pick<TimeSeriesStore, 'summarize' | 'levelDurations'>
  stations: Stations
  req: ReportRequest
  /** A scoped user's districts and stations; null sees everything. */
  scope: Scope | null
  /** The longest a reading (sensors) or a frame (cameras) holds its level: docs/reports.md "Time at level". */
  holdMaxMs: { sensors: number; cameras: number }
  /** A device's (camera's) name in the registry, when known. */
  deviceName?: ((id: string) => Promise<string | undefined>) | undefined
}

/** Tag conditions of the requested place. */
export function placeWhere(req: ReportRequest): Record<string, string> {
  const w: Record<string, string> = {}
  if (req.district) w.district = req.district
  if (req.station) w.station = req.station
  return w
}

export const iso = (ms: number): string => new Date(ms).toISOString()

export const round = (v: number, digits: number): number => {
  const f = 10 ** digits
  return Math.round(v * f) / f
}

export const atValue = (row: SummaryRow | undefined, digits = 3): AtValue | null =>
  row ? { value: round(row.value, digits), at: iso(row.ts) } : null

/**
 * The stations (tag `station`) seen in `rows`, with their district: the stations table's, else
 * the readings' tag; kept when the caller's scope allows them.
 */
export function visibleStations(ctx: SectionContext, rows: readonly SummaryRow[]): Map<string, { district?: string | undefined }> {
  const out = new Map<string, { district?: string | undefined }>()
  for (const r of rows) {
    const id = r.tags.station
    if (!id) continue
    const district = ctx.stations.get(id)?.district ?? r.tags.district ?? out.get(id)?.district
    out.set(id, { district })
  }
  for (const [id, place] of out) if (!placeInScope(ctx.scope, { station: id, district: place.district })) out.delete(id)
  return out
}

/** Rows indexed by their `station` tag (or another tag). */
export function byTag(rows: readonly SummaryRow[], tag = 'station'): Map<string, SummaryRow> {
  const m = new Map<string, SummaryRow>()
  for (const r of rows) {
    const k = r.tags[tag]
    if (k !== undefined && !m.has(k)) m.set(k, r)
  }
  return m
}

export const nameOf = (ctx: SectionContext, station: string): string => ctx.stations.get(station)?.name ?? station

export const byName = <T extends { name: string }>(a: T, b: T): number => a.name.localeCompare(b.name, 'vi')

/**
 * max or min of a derived value (rise_rate, aqi): kept in `derived`, and inside the readings
 * written before `derived` existed (docs/data-model.md, "Derived values"); both are read, and
 * per group (and bucket) the larger (smaller) wins, the earlier on a tie.
 */
export async function summarizeDerived(
  store: SectionContext['store'],
  q: Omit<SummaryQuery, 'measurement'> & { fn: 'max' | 'min' },
): Promise<SummaryRow[]> {
  const [old, now] = await Promise.all([
    store.summarize({ ...q, measurement: 'readings' }),
    store.summarize({ ...q, measurement: 'derived' }),
  ])
  if (old.length === 0) return now
  const better = (a: SummaryRow, b: SummaryRow) =>
    (q.fn === 'max' ? a.value > b.value : a.value < b.value) || (a.value === b.value && a.ts < b.ts)
  const key = (r: SummaryRow) => `${JSON.stringify(Object.entries(r.tags).sort())}${q.every !== undefined ? `@${r.ts}` : ''}`
  const out = new Map<string, SummaryRow>()
  for (const r of [...now, ...old]) {
    const have = out.get(key(r))
    if (!have || better(r, have)) out.set(key(r), r)
  }
  return [...out.values()]
}
