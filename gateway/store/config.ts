import Type, { type Static } from 'typebox'

// Optional tuning of the time-series store: beside `url` in the `influx:` section of gateway.yaml,
// and the `timeseries:` section for SQLite. Every key has a working default in the store itself,
// so an absent section changes nothing.

export const InfluxTuningSchema = Type.Object(
  {
    /** A write batch is sent when it holds this many points... */
    batchPoints: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'default 5000' })),
    /** ...or, when no request is in flight, this long after its first point (0: end of the event-loop turn). */
    flushIntervalMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000, description: 'default 0' })),
    /** Write requests in flight at once; above 1, points of different requests may land out of order. */
    maxInflight: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: 'default 2' })),
    /** A request InfluxDB has not answered within this long is also written to the spill journal (data dir), and acknowledged from there (0: never). */
    spillAfterMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000, description: 'default 50' })),
    requestTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 300_000, description: 'default 10000' })),
    /** Retry backoff ceiling while InfluxDB is unreachable. */
    backoffMaxMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 600_000, description: 'default 5000' })),
    /** Disk spool limit; past it writes are refused (not acknowledged) until InfluxDB drains it. */
    maxSpoolBytes: Type.Optional(Type.Integer({ minimum: 1_048_576, description: 'default 2 GiB' })),
  },
  { additionalProperties: false },
)

export const SqliteTuningSchema = Type.Object(
  {
    /** FULL survives a power cut; NORMAL survives a process crash only, and writes faster. */
    synchronous: Type.Optional(Type.Union([Type.Literal('FULL'), Type.Literal('NORMAL')], { description: 'default FULL' })),
    /** Raw samples older than this are deleted (InfluxDB's `raw` policy keeps 90 days too). */
    retentionDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 36_500, description: 'default 90' })),
  },
  { additionalProperties: false },
)

export type InfluxTuning = Static<typeof InfluxTuningSchema>
export type SqliteTuning = Static<typeof SqliteTuningSchema>
