import {
  atValue,
  byName,
  byTag,
  iso,
  nameOf,
  placeWhere,
  round,
  summarizeDerived,
  visibleStations,
  type SectionContext,
} from './context.ts'
import type { LevelKey, WaterLevelStationReport } from './types.ts'

// Water-level stations: maximum and when, time at each alarm level of Decision 05/2020/QĐ-TTg
// (levels from config/stations.yaml, as they are now), rise rates (derived at ingest). A station's
// level follows from its water level and its thresholds, computed in the store (levelDurations).

const LEVELS = [
  ['I', 1],
  ['II', 2],
  ['III', 3],
] as const

export async function waterSection(ctx: SectionContext): Promise<WaterLevelStationReport[]> {
  const { req } = ctx
  const base = { measurement: 'readings', from: req.from, to: req.to, where: placeWhere(req) }
  const q = (field: string, fn: 'count' | 'max' | 'min' | 'last') =>
    ctx.store.summarize({ ...base, field, fn, groupBy: fn === 'count' ? ['station', 'district'] : ['station'] })
  const [counts, max, min, last, riseMax, riseMin] = await Promise.all([
    q('water_level', 'count'),
    q('water_level', 'max'),
    q('water_level', 'min'),
    q('water_level', 'last'),
    summarizeDerived(ctx.store, { ...base, field: 'rise_rate', fn: 'max', groupBy: ['station'] }),
    summarizeDerived(ctx.store, { ...base, field: 'rise_rate', fn: 'min', groupBy: ['station'] }),
  ])
  const stations = visibleStations(ctx, counts)
  const n = new Map<string, number>()
  for (const r of counts) if (r.tags.station) n.set(r.tags.station, (n.get(r.tags.station) ?? 0) + r.value)
  const [maxBy, minBy, lastBy, riseBy, fallBy] = [byTag(max), byTag(min), byTag(last), byTag(riseMax), byTag(riseMin)]
  const out: WaterLevelStationReport[] = []
  await Promise.all(
    [...stations].map(async ([id, place]) => {
      const st = ctx.stations.get(id)
      const levels = { I: st?.levels?.I ?? null, II: st?.levels?.II ?? null, III: st?.levels?.III ?? null }
      const defined = LEVELS.filter(([k]) => levels[k] !== null)
      const time: Record<LevelKey, number> = { below: 0, I: 0, II: 0, III: 0 }
      const first: WaterLevelStationReport['first_reached'] = {}
      let covered = 0
      let maxLevel: number | null = null
      if (defined.length > 0) {
        const [d] = await ctx.store.levelDurations({
          ...base,
          where: { ...base.where, station: id },
          field: 'water_level',
          thresholds: defined.map(([k]) => levels[k]!),
          holdMaxMs: ctx.holdMaxMs.sensors,
        })
        if (d) {
          d.durations.forEach((ms, i) => {
            const key: LevelKey = i === 0 ? 'below' : defined[i - 1]![0]
            time[key] += ms / 1000
            covered += ms / 1000
            if (i > 0 && d.first[i] !== null) {
              first[key as 'I' | 'II' | 'III'] = iso(d.first[i]!)
              maxLevel = Math.max(maxLevel ?? 0, defined[i - 1]![1])
            }
          })
          maxLevel ??= 0
        }
      }
      const rise = riseBy.get(id)
      const fall = fallBy.get(id)
      out.push({
        station: id,
        name: nameOf(ctx, id),
        ...(place.district ? { district: place.district } : {}),
        ...(st?.river ? { river: st.river } : {}),
        levels,
        readings: n.get(id) ?? 0,
        max: atValue(maxBy.get(id)),
        min: atValue(minBy.get(id)),
        last: atValue(lastBy.get(id)),
        max_level: maxLevel,
        time_at_level_s: { below: round(time.below, 3), I: round(time.I, 3), II: round(time.II, 3), III: round(time.III, 3) },
        covered_s: round(covered, 3),
        first_reached: first,
        max_rise_rate: rise && rise.value > 0 ? atValue(rise) : null,
        max_fall_rate: fall && fall.value < 0 ? atValue(fall) : null,
      })
    }),
  )
  return out.sort(byName)
}
