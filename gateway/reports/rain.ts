import { byName, iso, nameOf, placeWhere, round, visibleStations, type SectionContext } from './context.ts'
import type { RainGaugeReport } from './types.ts'

// Rainfall per station: the store sums `rainfall` (mm over the reading's interval_s) per clock
// hour; the wettest hour is the largest of those sums and the wettest 24 h the largest sum of 24
// consecutive clock hours (a window sliding by one hour, within the period).

const HOUR = 3_600_000

export async function rainSection(ctx: SectionContext): Promise<RainGaugeReport[]> {
  const { req } = ctx
  const base = { measurement: 'readings', field: 'rainfall', from: req.from, to: req.to, where: placeWhere(req) }
  const [hourly, counts] = await Promise.all([
    ctx.store.summarize({ ...base, fn: 'sum', every: HOUR, groupBy: ['station'] }),
    ctx.store.summarize({ ...base, fn: 'count', groupBy: ['station', 'district'] }),
  ])
  const stations = visibleStations(ctx, counts)
  const hours = new Map<string, Array<{ ts: number; mm: number }>>()
  for (const r of hourly) {
    const id = r.tags.station
    if (!id || !stations.has(id)) continue
    let list = hours.get(id)
    if (!list) hours.set(id, (list = []))
    list.push({ ts: r.ts, mm: r.value })
  }
  const n = new Map<string, number>()
  for (const r of counts) if (r.tags.station) n.set(r.tags.station, (n.get(r.tags.station) ?? 0) + r.value)
  const out: RainGaugeReport[] = []
  for (const [id, place] of stations) {
    const list = (hours.get(id) ?? []).sort((a, b) => a.ts - b.ts)
    let total = 0
    let max1: { ts: number; mm: number } | null = null
    for (const h of list) {
      total += h.mm
      if (!max1 || h.mm > max1.mm) max1 = h
    }
    // Sliding 24 h window over the hour buckets (missing hours count 0).
    let max24: { ts: number; mm: number } | null = null
    let sum = 0
    let lo = 0
    for (let hi = 0; hi < list.length; hi++) {
      sum += list[hi]!.mm
      while (list[hi]!.ts - list[lo]!.ts >= 24 * HOUR) sum -= list[lo++]!.mm
      if (!max24 || sum > max24.mm + 1e-9) max24 = { ts: list[lo]!.ts, mm: sum }
    }
    out.push({
      station: id,
      name: nameOf(ctx, id),
      ...(place.district ? { district: place.district } : {}),
      readings: n.get(id) ?? 0,
      total_mm: round(total, 2),
      max_1h: max1 ? { value: round(max1.mm, 2), at: iso(max1.ts) } : null,
      max_24h: max24 ? { value: round(max24.mm, 2), at: iso(max24.ts) } : null,
    })
  }
  return out.sort(byName)
}
