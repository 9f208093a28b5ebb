import { CodedError } from '../util/coded-error.ts'

// The time-series store: one interface, two implementations (SQLite, the embedded default, and
// InfluxDB 1.x). Both hold the model of docs/data-model.md, so the readings API, the alert engine,
// vision and the Grafana boards see the same measurements, tags and fields.
//
// Semantics both implementations honour (the contract suite in test/store checks them):
// - A point is identified by (measurement, tag set, ts): writing the same identity again overwrites
//   the fields it carries (InfluxDB's rule). A duplicate reading (same device, seq and ts) therefore
//   lands on itself and is stored once.
// - Time ranges are half-open: `from` inclusive, `to` exclusive, epoch ms.
// - Aggregation buckets are aligned to the epoch (InfluxDB's GROUP BY time without offset); a
//   bucket's ts is its start; empty buckets are left out (fill(none)).
// - Tags that are unknown are omitted, never written as empty strings.

export type FieldValue = number | string | boolean

export interface Point {
  measurement: string
  /** Only known tags; an empty-string tag is dropped by the stores. */
  tags: Readonly<Record<string, string>>
  /** At least one field. Non-finite numbers are refused by `write`. */
  fields: Readonly<Record<string, FieldValue>>
  /** Event time, epoch ms (the reading's own time, never the arrival time). */
  ts: number
}

/** Measurements of docs/data-model.md and their tag keys. */
export const MEASUREMENT_TAGS = {
  readings: ['device', 'kind', 'station', 'district'],
  derived: ['device', 'kind', 'station', 'district'],
  detections: ['camera', 'zone', 'station', 'district'],
  alerts: ['kind', 'rule', 'severity', 'state', 'station', 'device'],
  device_status: ['device', 'kind', 'station'],
  rejects: ['device', 'reason'],
} as const satisfies Record<string, readonly string[]>

/**
 * Fields stored as integers (InfluxDB `i` type; a field's type may never change in InfluxDB, so
 * writers get it from here, not from the value they happen to hold). Values are rounded.
 */
export const INTEGER_FIELDS: Readonly<Record<string, ReadonlySet<string>>> = {
  readings: new Set(['seq']),
  detections: new Set(['car', 'motorcycle', 'bus', 'truck', 'bicycle']),
  device_status: new Set(['uptime', 'queue_dropped']),
  rejects: new Set(['count']),
}

/**
 * The values ingest derives from readings, stored in `derived` (docs/data-model.md) rather than in
 * the reading, each with the raw fields whose readings carry it: a reading without them has none.
 */
export const DERIVED_CARRIERS: Readonly<Record<string, readonly string[]>> = {
  alarm_level: ['water_level'],
  rise_rate: ['water_level'],
  aqi: ['pm25', 'pm10', 'no2', 'so2', 'o3', 'co'],
  aqi_dominant: ['pm25', 'pm10', 'no2', 'so2', 'o3', 'co'],
}

/**
 * A reading finds its derived values in the newest `derived` point of its device at or before it
 * within the same cell of this grid (epoch-aligned): ingest writes a point at the first reading of
 * a cell that has values, so every board bucket (Grafana's intervals are multiples of 5 s from the
 * data source's 10 s minimum) holds a point for each value its readings had.
 */
export const DERIVED_GRID_MS = 5000

export const AGGREGATE_FNS = ['mean', 'min', 'max', 'last'] as const
export type AggregateFn = (typeof AGGREGATE_FNS)[number]

export interface ValuePoint {
  /** Epoch ms; for aggregates the start of the bucket. */
  ts: number
  value: FieldValue
}

/** Raw points of one metric (a field of `readings`) of one device. */
export interface RawReadingsQuery {
  device: string
  metric: string
  from: number
  to: number
  /** At most this many points (the store caps it at MAX_READINGS_POINTS). */
  limit: number
  /** Default 'asc' (oldest first). 'desc' gives the newest `limit` points, newest first. */
  order?: 'asc' | 'desc' | undefined
}

/** One metric of one device aggregated into buckets of `every` ms. */
export interface AggregateReadingsQuery {
  device: string
  metric: string
  from: number
  to: number
  every: number
  fn: AggregateFn
  /** At most this many buckets, oldest first (the store caps it at MAX_READINGS_POINTS). */
  limit?: number | undefined
}

export interface LatestFilter {
  /** `readings` when absent; `derived` for the derived values (docs/data-model.md). */
  measurement?: 'readings' | 'derived' | undefined
  kind?: string | undefined
  station?: string | undefined
  device?: string | undefined
}

/** The latest value of every field a device has reported (measurement `readings`). */
export interface LatestReadings {
  device: string
  /** Tags of the device's newest point (kind, station, district when known). */
  tags: Record<string, string>
  /** Time of the device's newest point, epoch ms. */
  ts: number
  /** Each field's own latest value (not only those of the newest point); `seq` left out. */
  values: Record<string, FieldValue>
}

/** The series of one measurement a query reads, and the time range: `from` to `to`, epoch ms. */
export interface SeriesRange {
  measurement: string
  /** Exact tag matches, ANDed. */
  where?: Readonly<Record<string, string>> | undefined
  from: number
  to: number
}

/** Generic query over any measurement (detections, alerts, device_status, ...). */
export interface PointQuery extends SeriesRange {
  /** Fields to return; all fields when omitted (raw only: aggregates need the list). */
  fields?: readonly string[] | undefined
  limit?: number | undefined
  order?: 'asc' | 'desc' | undefined
  /** Aggregate into buckets of `every` ms with `fn`, one row per bucket and `groupBy` tag values. */
  every?: number | undefined
  fn?: AggregateFn | undefined
  /** Tags to group aggregates by (returned in `tags`); raw points always carry all their tags. */
  groupBy?: readonly string[] | undefined
}

export interface QueriedPoint {
  ts: number
  tags: Record<string, string>
  /** Only fields present in the point (or non-empty in the bucket). */
  fields: Record<string, FieldValue>
}

/** Summaries of one field over groups of series, for reports (docs/reports.md). */
export const SUMMARY_FNS = ['sum', 'count', 'max', 'min', 'first', 'last'] as const
export type SummaryFn = (typeof SUMMARY_FNS)[number]

export interface SummaryQuery extends SeriesRange {
  field: string
  fn: SummaryFn
  /** Tags whose values make the groups; a series without one of them is grouped without it. */
  groupBy?: readonly string[] | undefined
  /** Buckets of `every` ms aligned to the epoch; absent, one row per group over the whole range. */
  every?: number | undefined
}

export interface SummaryRow {
  tags: Record<string, string>
  /**
   * Bucket start with `every`. Without it: for max/min/first/last the time of the point chosen
   * (the earliest one on a tie), for sum/count the range's `from`.
   */
  ts: number
  value: number
}

/**
 * Time spent at each level of a stepwise numeric field, per group. Level = how many of the
 * ascending `thresholds` the value reaches (v >= t). Points of one group at the same time count
 * once, with their highest value (the zones of one camera frame). A point holds its level until
 * the group's next point, at most `holdMaxMs`; the last one until `to`, at most `holdMaxMs`.
 */
export interface LevelDurationsQuery extends SeriesRange {
  field: string
  groupBy?: readonly string[] | undefined
  thresholds: readonly number[]
  holdMaxMs: number
}

export interface LevelDurations {
  tags: Record<string, string>
  /** Distinct point times in the group. */
  points: number
  /** ms per level, index 0 (below the first threshold) to thresholds.length. */
  durations: number[]
  /** Time of the first point at each level, null when never at it. */
  first: Array<number | null>
}

/**
 * Every point of one measurement in a time range, for exports: read page by page so that a year of
 * a station's readings never sits in memory at once. Points come oldest first.
 */
export interface ScanQuery {
  measurement: string
  /** Exact tag matches, ANDed. */
  where?: Readonly<Record<string, string | undefined>> | undefined
  /**
   * Only points whose `station` tag is one of `stations` or whose `district` tag is one of
   * `districts` (a scoped user's places); absent: every place. Both empty: nothing.
   */
  places?: { stations: readonly string[]; districts: readonly string[] } | undefined
  from: number
  to: number
}

export interface PointScan {
  /** Every field key the measurement has (the CSV columns), sorted. */
  fields: string[]
  /** Pages of points, oldest first; each page is the store's to reuse once the next is asked for. */
  pages: AsyncIterable<QueriedPoint[]>
  /**
   * The same scan as plain data, for a worker thread to read the pages itself with its own
   * connection (gateway/exports/worker.ts); absent: only `pages` can read it.
   */
  source?: ScanSource
}

/** What a worker needs to run a store's scan on its own: structured-clonable. */
export type ScanSource =
  | {
      store: 'sqlite'
      file: string
      series: Array<{ id: number; tags: Record<string, string> }>
      fields: Array<{ id: number; name: string }>
      from: number
      to: number
    }
  | {
      store: 'influx'
      url: string
      requestTimeoutMs: number
      plan: { from: string; conds: string; tagKeys: string[]; start: number; end: number }
    }

export interface StoreHealth {
  /** The store accepts writes durably (possibly into its spill buffer). */
  ok: boolean
  /** Working but not at full service: e.g. InfluxDB unreachable, points going to the disk spool. */
  degraded: boolean
  detail: string
  /** Points and bytes waiting in the disk spool (InfluxDB only). */
  spool?: { points: number; bytes: number } | undefined
  /** InfluxDB on several servers (`influx.urls`): each one's state, in list order. */
  targets?: InfluxTargetHealth[] | undefined
}

export interface InfluxTargetHealth {
  /** host:port/database */
  name: string
  /** Takes writes durably (into itself or its own spool, which has room). */
  ok: boolean
  /** up; down (unreachable, writes spool); draining (reachable, its journal not yet sent). */
  state: 'up' | 'down' | 'draining' | 'closed'
  /** Reads go to this one now. */
  reads: boolean
  detail: string
  spool: { points: number; bytes: number }
}

export interface TimeSeriesStore {
  readonly backend: 'sqlite' | 'influx'
  /**
   * Resolves only once every point is durable: committed in the store, or fsync'd into the store's
   * own disk spool (then delivered later, in order). Rejects (nothing stored) on invalid points
   * (StoreError 'invalid') or when the store is closed. The points are the caller's to keep but
   * not to change until the promise settles: a store may hold them (not copies) until then.
   */
  write(points: readonly Point[]): Promise<void>
  readings(q: RawReadingsQuery): Promise<ValuePoint[]>
  aggregate(q: AggregateReadingsQuery): Promise<ValuePoint[]>
  latest(filter: LatestFilter): Promise<LatestReadings[]>
  queryPoints(q: PointQuery): Promise<QueriedPoint[]>
  /** One row per group (and bucket); groups without a numeric point in range are left out. */
  summarize(q: SummaryQuery): Promise<SummaryRow[]>
  levelDurations(q: LevelDurationsQuery): Promise<LevelDurations[]>
  /** Streams a whole range page by page (exports); the caller may stop early by returning from the iteration. */
  scan(q: ScanQuery): Promise<PointScan>
  health(): StoreHealth
  /** Flushes what is buffered (or leaves it in the spool, durable) and releases resources. */
  close(): Promise<void>
}

/** The most points one query answers, whatever limit is asked. */
export const MAX_QUERY_POINTS = 100_000

/**
 * The most points `readings` and `aggregate` return: one more than any answer holds, so a caller
 * that asks for limit + 1 learns that the answer was cut even at the largest limit (the readings
 * API's `truncated`, docs/api.md "Readings").
 */
export const MAX_READINGS_POINTS = MAX_QUERY_POINTS + 1

export class StoreError extends CodedError<'invalid' | 'closed' | 'unavailable'> {}
