import type { DeviceRegistry } from '../registry/types.ts'
import type { TimeSeriesStore } from '../store/types.ts'
import type { Report } from './types.ts'
import type { WaterSeries } from './view.ts'

// The water level of each station of a report over its period, for the PDF's line charts (the
// report JSON holds figures, not series). The bucket's maximum, as the console's station chart
// asks for: a flood peak must not be averaged away. Hourly up to two days, then three-hourly, so
// a week stays a readable line on A4.

const HOUR = 3_600_000

export interface SeriesDeps {
  registry: Pick<DeviceRegistry, 'listDevices'>
  store: Pick<TimeSeriesStore, 'aggregate'>
}

export async function waterSeries(report: Report, deps: SeriesDeps): Promise<WaterSeries> {
  const from = Date.parse(report.period.from)
  const to = Date.parse(report.period.to)
  const every = to - from > 48 * HOUR ? 3 * HOUR : HOUR
  const out: WaterSeries = {}
  for (const s of report.water_levels) {
    // The station's first active gauge: a station with a spare gauge draws one line, not two.
    const device = (await deps.registry.listDevices({ kind: 'water_level', station: s.station, state: 'active' }, { limit: 1 })).items[0]
    if (!device) continue
    const points = await deps.store.aggregate({ device: device.id, metric: 'water_level', from, to, every, fn: 'max' })
    out[s.station] = points.flatMap((p) => (typeof p.value === 'number' ? [{ ts: new Date(p.ts).toISOString(), value: p.value }] : []))
  }
  return out
}
