import type { Reading } from '../bus/events.ts'
import { DERIVED_CARRIERS, DERIVED_GRID_MS } from '../store/types.ts'
import { BoundedMap } from '../util/lru.ts'

// When a reading's derived values (alarm_level, rise_rate, aqi, aqi_dominant) need a `derived`
// point of their own (docs/data-model.md, "Derived values"). A reader finds a reading's values in
// the newest `derived` point of its device at or before the reading, within the reading's 5 s grid
// cell (DERIVED_GRID_MS), unless a point flagged `late` sits at the reading's own time; so a
// point is written:
//   - when the values differ from those the reading would find otherwise (a change, or the first
//     reading of a grid cell that has values: at least one point every 5 s while they last);
//   - for a reading older than its device's newest, flagged `late`: its values hold for it alone,
//     and the readings after it keep finding theirs.

/** Derived fields in a fixed order. */
export const DERIVED_FIELDS = Object.keys(DERIVED_CARRIERS)

interface SeriesState {
  /** Newest reading with a carrier field seen (epoch ms). */
  newest: number
  /** Time of the newest `derived` point written that readings after it read (not `late`). */
  wrote: number
  /** Its values, as compared (`key`). */
  key: string
}

/** Whether a reading carries derived values at all: it holds a field they are derived from. */
export function carriesDerived(values: Readonly<Record<string, unknown>>): boolean {
  return values.water_level !== undefined || DERIVED_CARRIERS.aqi!.some((f) => values[f] !== undefined)
}

export type DerivedFields = Record<string, number | string | boolean>

/**
 * Per device, the newest reading and the newest `derived` point written; bounded (LRU), so a
 * forgotten device's next reading just writes a point again.
 */
export class DerivedSeries {
  private readonly series: BoundedMap<string, SeriesState>

  constructor(maxDevices = 100_000) {
    this.series = new BoundedMap(maxDevices)
  }

  /**
   * The fields of the `derived` point this reading needs, or undefined when readers find its
   * values without one. Call in the order readings are accepted.
   */
  pointFor(r: Reading): DerivedFields | undefined {
    if (!carriesDerived(r.values)) return undefined
    let fields: DerivedFields | undefined
    let key = ''
    for (const f of DERIVED_FIELDS) {
      const v = f === 'aqi_dominant' ? r.aqi_dominant : r.values[f]
      if (v === undefined) continue
      ;(fields ??= {})[f] = v
      key += `${f}=${v};`
    }
    const s = this.series.get(r.device)
    if (s !== undefined && r.ts < s.newest) return { ...fields, late: true }
    const before = s !== undefined && Math.floor(s.wrote / DERIVED_GRID_MS) === Math.floor(r.ts / DERIVED_GRID_MS) ? s.key : ''
    if (s === undefined) this.series.set(r.device, { newest: r.ts, wrote: -Infinity, key: '' })
    else s.newest = r.ts
    if (key === before) return undefined
    const st = this.series.get(r.device)!
    st.wrote = r.ts
    st.key = key
    // No value from here on, where the minute's earlier point had some.
    return fields ?? { unset: true }
  }

  /** After a failed write: what was decided for the device may not be stored, so decide afresh. */
  forget(device: string): void {
    const s = this.series.get(device)
    if (s === undefined) return
    s.wrote = -Infinity
    s.key = ''
  }
}
