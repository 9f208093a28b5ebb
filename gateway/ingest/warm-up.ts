import type { PointQuery, QueriedPoint, TimeSeriesStore } from '../store/types.ts'
import { HOUR_MS, hourStartOf, type HourlyMeans } from './aqi-state.ts'
import type { RiseRateState } from './rise-rate.ts'
import type { Stations } from '../domain/stations.ts'
import { AQI_POLLUTANTS } from '../domain/vn-aqi.ts'

// Derived values depend on recent history: VN_AQI on up to 31 hourly means per station
// (NowCast over 12 hours, daily O3 8-hour means reaching 7 hours into the previous day; Decision
// 1459/QĐ-TCMT §2.2), the rise rate on the water levels of its window. In-process state is empty
// after a restart, so without this the first hours of AQI after every restart would be computed
// from fewer hours than the decision asks and the first rise rates from one sample. At start-up,
// before the broker accepts devices, that state is rebuilt from what the store already holds.
//
// Completed hours come back as their stored mean, counted as one value: a late reading for such
// an hour after a restart then weighs as much as the rest of that hour (documented limit). The
// current hour is replayed reading by reading, as are water levels.

/** Hours of means restored: what daily AQI reaches back (24 + 7) with a margin. */
export const WARM_HOURS = 36
/** Points per query page (under the store's limit). */
const PAGE = 20_000

export interface WarmUpResult {
  /** Hourly means restored (device × pollutant × hour). */
  hours: number
  /** Readings replayed (current-hour concentrations and water levels). */
  readings: number
}

type Source = Pick<TimeSeriesStore, 'queryPoints'>

/**
 * Raw points of [from, to) in time order, page by page. A full page ends at its last instant,
 * which the next page starts from (points sharing an instant are never split between pages).
 */
async function* rawPoints(store: Source, q: Omit<PointQuery, 'limit' | 'order'>): AsyncGenerator<QueriedPoint> {
  let from = q.from
  for (;;) {
    const page = await store.queryPoints({ ...q, from, limit: PAGE, order: 'asc' })
    const last = page.at(-1)
    if (page.length < PAGE || !last || last.ts === from) {
      yield* page
      return
    }
    for (const p of page) if (p.ts < last.ts) yield p
    from = last.ts
  }
}

/** Adds a point's concentrations to the hour holding it (a bucket's ts is its start); answers how many. */
function addConcentrations(hourly: HourlyMeans, p: QueriedPoint): number {
  const device = p.tags.device
  if (!device) return 0
  let n = 0
  for (const pol of AQI_POLLUTANTS) {
    const v = p.fields[pol]
    if (typeof v !== 'number') continue
    hourly.add(device, pol, hourStartOf(p.ts), v)
    n++
  }
  return n
}

export async function warmUp(
  store: Source,
  state: { hourly: HourlyMeans; rise: RiseRateState },
  stations: Stations,
  now: number,
): Promise<WarmUpResult> {
  const out: WarmUpResult = { hours: 0, readings: 0 }
  const hour = hourStartOf(now)
  const pollutants = [...AQI_POLLUTANTS]

  // Completed hours: one aggregate query for every air-quality station.
  const means = await store.queryPoints({
    measurement: 'readings',
    where: { kind: 'air_quality' },
    fields: pollutants,
    from: hour - WARM_HOURS * HOUR_MS,
    to: hour,
    every: HOUR_MS,
    fn: 'mean',
    groupBy: ['device'],
  })
  for (const p of means) out.hours += addConcentrations(state.hourly, p)

  // The current hour, reading by reading (more may still come for it). Up to the end of the hour:
  // readings ahead of the gateway clock within the allowed drift belong to it too.
  for await (const p of rawPoints(store, {
    measurement: 'readings',
    where: { kind: 'air_quality' },
    fields: pollutants,
    from: hour,
    to: hour + HOUR_MS,
  })) {
    out.readings += addConcentrations(state.hourly, p)
  }

  // Water levels of the longest rise window (any station's, or the default's), in time order.
  const windowMs = Math.max(stations.riseWindowMs(null), ...Object.keys(stations.all()).map((id) => stations.riseWindowMs(id)))
  for await (const p of rawPoints(store, {
    measurement: 'readings',
    where: { kind: 'water_level' },
    fields: ['water_level'],
    from: now - windowMs,
    to: now + HOUR_MS,
  })) {
    const device = p.tags.device
    const level = p.fields.water_level
    if (!device || typeof level !== 'number') continue
    state.rise.add(device, p.ts, level, stations.riseWindowMs(p.tags.station))
    out.readings++
  }
  return out
}
