import { aqiBand, AQI_BANDS } from '../domain/vn-aqi.ts'
import { atValue, byName, byTag, nameOf, placeWhere, round, summarizeDerived, visibleStations, type SectionContext } from './context.ts'
import { AQI_BAND_KEYS, type AirQualityStationReport, type AqiBandKey } from './types.ts'

// Air quality per station: each clock hour counts once, in the VN_AQI band (Decision 1459/QĐ-TCMT,
// Table 1) of the highest `aqi` the station reported in it (the index is hourly; ingest updates it
// with every reading, so the hour's worst value is the one the public would have seen at worst).

const HOUR = 3_600_000

export async function airSection(ctx: SectionContext): Promise<AirQualityStationReport[]> {
  const { req } = ctx
  const base = { field: 'aqi', from: req.from, to: req.to, where: placeWhere(req) }
  const [hourly, max] = await Promise.all([
    summarizeDerived(ctx.store, { ...base, fn: 'max', every: HOUR, groupBy: ['station', 'district'] }),
    summarizeDerived(ctx.store, { ...base, fn: 'max', groupBy: ['station'] }),
  ])
  const stations = visibleStations(ctx, hourly)
  const maxBy = byTag(max)
  // One value per station and hour (a station whose readings changed district tag has two groups).
  const perHour = new Map<string, Map<number, number>>()
  for (const r of hourly) {
    const id = r.tags.station
    if (!id || !stations.has(id)) continue
    let m = perHour.get(id)
    if (!m) perHour.set(id, (m = new Map<number, number>()))
    m.set(r.ts, Math.max(m.get(r.ts) ?? -Infinity, r.value))
  }
  const out: AirQualityStationReport[] = []
  for (const [id, place] of stations) {
    const values = [...(perHour.get(id)?.values() ?? [])]
    const bands = Object.fromEntries(AQI_BAND_KEYS.map((k) => [k, 0])) as Record<AqiBandKey, number>
    for (const v of values) bands[AQI_BAND_KEYS[AQI_BANDS.indexOf(aqiBand(v))]!]++
    out.push({
      station: id,
      name: nameOf(ctx, id),
      ...(place.district ? { district: place.district } : {}),
      hours: values.length,
      hours_by_band: bands,
      max_aqi: atValue(maxBy.get(id), 0),
      mean_aqi: values.length ? round(values.reduce((a, b) => a + b, 0) / values.length, 0) : null,
    })
  }
  return out.sort(byName)
}
