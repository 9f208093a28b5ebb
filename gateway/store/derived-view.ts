import {
  DERIVED_CARRIERS,
  DERIVED_GRID_MS,
  MAX_QUERY_POINTS,
  MAX_READINGS_POINTS,
  type AggregateReadingsQuery,
  type FieldValue,
  type LatestFilter,
  type QueriedPoint,
  type RawReadingsQuery,
  type TimeSeriesStore,
  type ValuePoint,
} from './types.ts'

// The readings API's reads of derived values (alarm_level, rise_rate, aqi, aqi_dominant), which
// live in `derived` rather than in each reading (docs/data-model.md, "Derived values"), answered
// per reading as before: each reading that carries them (a water level; a pollutant) takes them
// from its own point when it holds them (points written before `derived` existed), else from the
// `derived` point flagged `late` at its own time, else from the newest other `derived` point of
// its device at or before it within its grid cell (DERIVED_GRID_MS). Aggregates are then computed over those
// per-reading values as each store computes its own.

const CELL = DERIVED_GRID_MS

const isDerived = (metric: string): boolean => Object.prototype.hasOwnProperty.call(DERIVED_CARRIERS, metric)

/** All points of one device's measurement in [from, to), oldest first, page by page. */
async function allPoints(store: TimeSeriesStore, measurement: string, device: string, fields: readonly string[], from: number, to: number) {
  const out: QueriedPoint[] = []
  let start = from
  for (;;) {
    const page = await store.queryPoints({ measurement, where: { device }, fields, from: start, to, limit: MAX_QUERY_POINTS })
    out.push(...page)
    if (page.length < MAX_QUERY_POINTS) return out
    // One point per time in a device's series: the next page starts after the last.
    start = page[page.length - 1]!.ts + 1
  }
}

/** Each reading's value of a derived metric, oldest first. */
async function derivedValues(store: TimeSeriesStore, device: string, metric: string, from: number, to: number): Promise<ValuePoint[]> {
  const carriers = DERIVED_CARRIERS[metric]!
  const [readings, derived] = await Promise.all([
    allPoints(store, 'readings', device, [...carriers, metric], from, to),
    allPoints(store, 'derived', device, [...Object.keys(DERIVED_CARRIERS), 'late', 'unset'], Math.floor(from / CELL) * CELL, to),
  ])
  return valuesAtReadings(readings, derived, metric)
}

type Timed = Pick<QueriedPoint, 'ts' | 'fields'>

/**
 * A derived metric's value at each of one device's readings (both oldest first; `derived` from
 * the start of the first reading's grid cell): the rule of docs/data-model.md, "Derived values".
 */
export function valuesAtReadings(readings: readonly Timed[], derived: readonly Timed[], metric: string): ValuePoint[] {
  const carriers = DERIVED_CARRIERS[metric]!
  const out: ValuePoint[] = []
  let i = 0 // next `derived` point not yet passed
  let step: Timed | undefined // newest not-late point at or before the reading
  for (const r of readings) {
    const own = r.fields[metric]
    if (own !== undefined) {
      out.push({ ts: r.ts, value: own })
      continue
    }
    if (!carriers.some((c) => r.fields[c] !== undefined)) continue
    let late: Timed | undefined
    while (i < derived.length && derived[i]!.ts <= r.ts) {
      const p = derived[i++]!
      if (p.fields.late === true) {
        if (p.ts === r.ts) late = p
      } else step = p
    }
    const from = late ?? (step !== undefined && Math.floor(step.ts / CELL) === Math.floor(r.ts / CELL) ? step : undefined)
    const v = from?.fields[metric]
    if (v !== undefined) out.push({ ts: r.ts, value: v })
  }
  return out
}

/** Float sums as each store adds them: InfluxDB in order, SQLite (3.43+) with Kahan-Babuska-Neumaier. */
function summer(backend: TimeSeriesStore['backend']): (xs: readonly number[]) => number {
  if (backend === 'influx') return (xs) => xs.reduce((a, b) => a + b, 0)
  return (xs) => {
    let sum = 0
    let err = 0
    for (const x of xs) {
      const t = sum + x
      if (Math.abs(sum) >= Math.abs(x)) err += sum - t + x
      else err += x - t + sum
      sum = t
    }
    return sum + err
  }
}

function aggregateValues(points: readonly ValuePoint[], q: AggregateReadingsQuery, backend: TimeSeriesStore['backend']): ValuePoint[] {
  const buckets = new Map<number, ValuePoint[]>()
  for (const p of points) {
    if (q.fn !== 'last' && typeof p.value !== 'number') continue
    const b = p.ts - (((p.ts % q.every) + q.every) % q.every)
    let list = buckets.get(b)
    if (!list) buckets.set(b, (list = []))
    list.push(p)
  }
  const sum = summer(backend)
  const out: ValuePoint[] = []
  for (const [ts, list] of buckets) {
    const nums = list.map((p) => p.value as number)
    const value: FieldValue =
      q.fn === 'last'
        ? list[list.length - 1]!.value
        : q.fn === 'min'
          ? Math.min(...nums)
          : q.fn === 'max'
            ? Math.max(...nums)
            : sum(nums) / nums.length
    out.push({ ts, value })
  }
  return out.slice(0, Math.min(q.limit ?? MAX_QUERY_POINTS, MAX_READINGS_POINTS))
}

/**
 * The store with the readings API's reads (readings, aggregate, latest) answering derived metrics
 * from both point shapes; everything else is the store's own.
 */
export function withDerivedView(store: TimeSeriesStore): TimeSeriesStore {
  const view: Pick<TimeSeriesStore, 'readings' | 'aggregate' | 'latest'> = {
    async readings(q: RawReadingsQuery) {
      if (!isDerived(q.metric)) return store.readings(q)
      const all = await derivedValues(store, q.device, q.metric, q.from, q.to)
      const limit = Math.min(q.limit, MAX_READINGS_POINTS)
      return q.order === 'desc' ? all.reverse().slice(0, limit) : all.slice(0, limit)
    },
    async aggregate(q: AggregateReadingsQuery) {
      if (!isDerived(q.metric)) return store.aggregate(q)
      return aggregateValues(await derivedValues(store, q.device, q.metric, q.from, q.to), q, store.backend)
    },
    async latest(filter: LatestFilter) {
      const [readings, derived] = await Promise.all([store.latest(filter), store.latest({ ...filter, measurement: 'derived' })])
      const byDevice = new Map(derived.map((d) => [d.device, d.values]))
      // A device's newest derived values; those inside its readings (written before `derived`
      // existed) where it has none.
      for (const item of readings) {
        const values = byDevice.get(item.device)
        if (!values) continue
        for (const [k, v] of Object.entries(values)) if (isDerived(k)) item.values[k] = v
      }
      return readings
    },
  }
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key === 'readings' || key === 'aggregate' || key === 'latest') return view[key]
      const v = Reflect.get(target, key, receiver) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    },
  })
}
