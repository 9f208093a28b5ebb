import Type, { type Static } from 'typebox'

// The situation report (docs/reports.md): one JSON document for a period and a place, computed
// from the stores. Machine keys everywhere; the few texts it carries (titles, unit labels, band
// names) are in `lang`. Station and camera names keep their Vietnamese diacritics in both
// languages. The console page and the PDF render this type; changes to it are additive only.

export const REPORT_VERSION = 1

export const LANGS = ['vi', 'en'] as const
export type Lang = (typeof LANGS)[number]

/** Flood alarm levels of Decision 05/2020/QĐ-TTg; `below` = under level I. */
export const LEVEL_KEYS = ['below', 'I', 'II', 'III'] as const
export type LevelKey = (typeof LEVEL_KEYS)[number]

/** VN_AQI bands of Decision 1459/QĐ-TCMT, Table 1 (0-50, 51-100, 101-150, 151-200, 201-300, 301-500). */
export const AQI_BAND_KEYS = ['good', 'moderate', 'poor', 'bad', 'very_bad', 'hazardous'] as const
export type AqiBandKey = (typeof AQI_BAND_KEYS)[number]

/** Congestion levels of the vision pipeline (docs/vision.md): 0 free ... 3 jammed. */
export const CONGESTION_KEYS = ['0', '1', '2', '3'] as const
export type CongestionKey = (typeof CONGESTION_KEYS)[number]

export const VEHICLE_CLASS_KEYS = ['car', 'motorcycle', 'bus', 'truck', 'bicycle'] as const
export type VehicleClassKey = (typeof VEHICLE_CLASS_KEYS)[number]

const Iso = Type.String({ format: 'date-time', description: 'ISO 8601, UTC' })
const Seconds = Type.Number({ minimum: 0, description: 'seconds' })
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])

/** A value with the time it was reached (the first time, when reached more than once). */
export const AtValue = Type.Object({ value: Type.Number(), at: Iso }, { additionalProperties: false })
export type AtValue = Static<typeof AtValue>

const LevelSeconds = Type.Object(
  { below: Seconds, I: Seconds, II: Seconds, III: Seconds },
  { additionalProperties: false, description: 'Seconds spent at each alarm level (hold rule of docs/reports.md)' },
)
const AqiBandHours = Type.Object(
  Object.fromEntries(AQI_BAND_KEYS.map((k) => [k, Type.Integer({ minimum: 0 })])) as Record<AqiBandKey, ReturnType<typeof Type.Integer>>,
  { additionalProperties: false, description: 'Clock hours whose highest VN_AQI fell in each band' },
)
const CongestionSeconds = Type.Object(
  Object.fromEntries(CONGESTION_KEYS.map((k) => [k, Seconds])) as Record<CongestionKey, typeof Seconds>,
  { additionalProperties: false, description: 'Seconds at each congestion level (hold rule of docs/reports.md)' },
)
const VehicleCounts = Type.Object(
  Object.fromEntries(VEHICLE_CLASS_KEYS.map((k) => [k, Type.Integer({ minimum: 0 })])) as Record<
    VehicleClassKey,
    ReturnType<typeof Type.Integer>
  >,
  { additionalProperties: false },
)

export const WaterLevelStationReport = Type.Object(
  {
    station: Type.String(),
    name: Type.String({ description: 'Station name (Vietnamese, with diacritics)' }),
    district: Type.Optional(Type.String()),
    river: Type.Optional(Type.String()),
    /** Alarm levels in metres (Decision 05/2020/QĐ-TTg); null where the station has none. */
    levels: Type.Object(
      { I: Nullable(Type.Number()), II: Nullable(Type.Number()), III: Nullable(Type.Number()) },
      { additionalProperties: false },
    ),
    readings: Type.Integer({ minimum: 0 }),
    /** Highest water level (m) and when; null without readings. */
    max: Nullable(AtValue),
    min: Nullable(AtValue),
    /** Last reading of the period. */
    last: Nullable(AtValue),
    /** Highest alarm level reached (0 below I, 1-3); null without levels or readings. */
    max_level: Nullable(Type.Integer({ minimum: 0, maximum: 3 })),
    time_at_level_s: LevelSeconds,
    /** Seconds of the period covered by readings (sum of held durations); the rest is no data. */
    covered_s: Seconds,
    /** First time each level was reached in the period. */
    first_reached: Type.Object({ I: Type.Optional(Iso), II: Type.Optional(Iso), III: Type.Optional(Iso) }, { additionalProperties: false }),
    /** Highest and lowest rise rate (m/h, derived at ingest over the station's rise window). */
    max_rise_rate: Nullable(AtValue),
    max_fall_rate: Nullable(AtValue),
  },
  { additionalProperties: false },
)
export type WaterLevelStationReport = Static<typeof WaterLevelStationReport>

/** Which station a row of a report is about, named as people know it. */
const StationPlace = { station: Type.String(), name: Type.String(), district: Type.Optional(Type.String()) }

export const RainGaugeReport = Type.Object(
  {
    /** `station`: the station the gauge belongs to, else the device id. */
    ...StationPlace,
    readings: Type.Integer({ minimum: 0 }),
    total_mm: Type.Number({ minimum: 0 }),
    /** Wettest clock hour: its total (mm) and its start. */
    max_1h: Nullable(AtValue),
    /** Wettest 24 consecutive clock hours within the period: its total (mm) and its start. */
    max_24h: Nullable(AtValue),
  },
  { additionalProperties: false },
)
export type RainGaugeReport = Static<typeof RainGaugeReport>

export const AirQualityStationReport = Type.Object(
  {
    ...StationPlace,
    /** Clock hours with a VN_AQI value. */
    hours: Type.Integer({ minimum: 0 }),
    hours_by_band: AqiBandHours,
    max_aqi: Nullable(AtValue),
    /** Mean of the hourly VN_AQI values (rounded to an integer). */
    mean_aqi: Nullable(Type.Number()),
  },
  { additionalProperties: false },
)
export type AirQualityStationReport = Static<typeof AirQualityStationReport>

export const CameraReport = Type.Object(
  {
    camera: Type.String(),
    station: Type.Optional(Type.String()),
    name: Type.String(),
    district: Type.Optional(Type.String()),
    zones: Type.Array(Type.String()),
    /** Frames analysed (detection points of the camera's first zone). */
    frames: Type.Integer({ minimum: 0 }),
    /** Vehicles counted per class, summed over frames and counting zones (vehicle-frames). */
    vehicles: VehicleCounts,
    /** Most vehicles of each class seen in one counting zone of one frame. */
    peak: VehicleCounts,
    /** Per congestion level, seconds of the camera's worst zone at the time (hold rule). */
    congestion_s: CongestionSeconds,
    max_congestion: Nullable(AtValue),
  },
  { additionalProperties: false },
)
export type CameraReport = Static<typeof CameraReport>

export const AlertReportItem = Type.Object(
  {
    id: Type.String(),
    kind: Type.String(),
    rule: Type.String(),
    severity: Type.String(),
    title: Type.String(),
    station: Type.Optional(Type.String()),
    device: Type.Optional(Type.String()),
    district: Type.Optional(Type.String()),
    /** Highest level the alert reached. */
    level: Type.Optional(Type.Integer()),
    state: Type.String({ description: 'State now (open, acknowledged, resolved)' }),
    opened_at: Iso,
    acknowledged_at: Type.Optional(Iso),
    acknowledged_by: Type.Optional(Type.String()),
    time_to_ack_s: Type.Optional(Seconds),
    resolved_at: Type.Optional(Iso),
    resolved_by: Type.Optional(Type.String()),
    time_to_resolve_s: Type.Optional(Seconds),
    notifications: Type.Object(
      { sent: Type.Integer({ minimum: 0 }), failed: Type.Integer({ minimum: 0 }), pending: Type.Integer({ minimum: 0 }) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
)
export type AlertReportItem = Static<typeof AlertReportItem>

const SecondsStats = Type.Object(
  { count: Type.Integer({ minimum: 0 }), median_s: Nullable(Seconds), max_s: Nullable(Seconds) },
  { additionalProperties: false },
)

export const AlertsSection = Type.Object(
  {
    opened: Type.Integer({ minimum: 0 }),
    by_kind: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
    by_severity: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
    acknowledged: SecondsStats,
    resolved: SecondsStats,
    /** Outbox rows of these alerts by final state; `failed` counts failed, uncertain and undeliverable. */
    notifications: Type.Object(
      {
        sent: Type.Integer({ minimum: 0 }),
        failed: Type.Integer({ minimum: 0 }),
        pending: Type.Integer({ minimum: 0 }),
        by_channel: Type.Record(
          Type.String(),
          Type.Object(
            { sent: Type.Integer({ minimum: 0 }), failed: Type.Integer({ minimum: 0 }), pending: Type.Integer({ minimum: 0 }) },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    items: Type.Array(AlertReportItem),
  },
  { additionalProperties: false },
)
export type AlertsSection = Static<typeof AlertsSection>

/** Human-readable texts in the report's language, for renderers (keys mirror the JSON keys). */
export const ReportLabels = Type.Object(
  {
    sections: Type.Record(Type.String(), Type.String()),
    fields: Type.Record(Type.String(), Type.String()),
    units: Type.Record(Type.String(), Type.String()),
    levels: Type.Record(Type.String(), Type.String()),
    aqi_bands: Type.Record(Type.String(), Type.String()),
    congestion: Type.Record(Type.String(), Type.String()),
    vehicle_classes: Type.Record(Type.String(), Type.String()),
  },
  { additionalProperties: false },
)
export type ReportLabels = Static<typeof ReportLabels>

export const ReportSchema = Type.Object(
  {
    version: Type.Literal(REPORT_VERSION),
    lang: Type.Union([Type.Literal('vi'), Type.Literal('en')]),
    title: Type.String(),
    /** One line summing the report up (what the daily report sends to subscribers). */
    summary: Type.String(),
    generated_at: Iso,
    period: Type.Object(
      {
        from: Iso,
        to: Iso,
        /** The time zone local days and the title are in. */
        tz: Type.Literal('Asia/Ho_Chi_Minh'),
        hours: Type.Number({ minimum: 0 }),
      },
      { additionalProperties: false },
    ),
    filters: Type.Object(
      { district: Type.Optional(Type.String()), station: Type.Optional(Type.String()) },
      { additionalProperties: false },
    ),
    /** The time-series store the figures came from. */
    store: Type.Union([Type.Literal('sqlite'), Type.Literal('influx')]),
    /** The longest a reading holds its level (seconds) when the next one is late: sensors and cameras. */
    hold_max_s: Type.Object({ sensors: Seconds, cameras: Seconds }, { additionalProperties: false }),
    water_levels: Type.Array(WaterLevelStationReport),
    rainfall: Type.Array(RainGaugeReport),
    air_quality: Type.Array(AirQualityStationReport),
    cameras: Type.Array(CameraReport),
    alerts: AlertsSection,
    labels: ReportLabels,
  },
  { additionalProperties: false, description: 'Situation report (docs/reports.md)' },
)
export type Report = Static<typeof ReportSchema>

/** What a report is asked for: the period (half-open, epoch ms) and the place. */
export interface ReportRequest {
  from: number
  to: number
  district?: string | undefined
  station?: string | undefined
  lang: Lang
}
