import Type, { type Static } from 'typebox'

// Payload shapes of docs/mqtt.md, shared by the gateway (validation) and the edge agent (producing).
// Structure only; value checks (finite, known metric, plausible range, time bounds) live in ingest
// so that each refusal names its own reason.

/** ISO 8601 with a zone (Z or ±hh:mm), or epoch milliseconds. */
export const Timestamp = Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Number()])

export const TelemetryReading = Type.Object(
  {
    ts: Type.Optional(Timestamp),
    seq: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    values: Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Type.Number(), { minProperties: 1, maxProperties: 32 }),
  },
  { additionalProperties: false },
)
export type TelemetryReading = Static<typeof TelemetryReading>

/** Readings in one message (a replay of buffered readings is an array); SenML packs may hold eight times as many records. */
export const MAX_READINGS_PER_MESSAGE = 1000

/** One SenML record (RFC 8428 §4, JSON representation §5). */
export const SenmlRecord = Type.Object(
  {
    bn: Type.Optional(Type.String({ maxLength: 256 })),
    bt: Type.Optional(Type.Number()),
    bu: Type.Optional(Type.String({ maxLength: 32 })),
    bv: Type.Optional(Type.Number()),
    bs: Type.Optional(Type.Number()),
    bver: Type.Optional(Type.Integer()),
    n: Type.Optional(Type.String({ maxLength: 256 })),
    u: Type.Optional(Type.String({ maxLength: 32 })),
    v: Type.Optional(Type.Number()),
    vs: Type.Optional(Type.String()),
    vb: Type.Optional(Type.Boolean()),
    vd: Type.Optional(Type.String()),
    s: Type.Optional(Type.Number()),
    t: Type.Optional(Type.Number()),
    ut: Type.Optional(Type.Number()),
  },
  // RFC 8428 §4.4: fields ending in "_" are must-understand; others may be ignored.
  { additionalProperties: true },
)
export type SenmlRecord = Static<typeof SenmlRecord>

export const DeviceStatus = Type.Object(
  {
    online: Type.Boolean(),
    ts: Type.Optional(Timestamp),
    fw: Type.Optional(Type.String({ maxLength: 64 })),
    uptime: Type.Optional(Type.Number({ minimum: 0 })),
    /** Edge store-and-forward: readings dropped (oldest first) since the agent's first start. */
    queue_dropped: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Edge store-and-forward: readings waiting on disk. */
    queue_depth: Type.Optional(Type.Integer({ minimum: 0 })),
    interval_s: Type.Optional(Type.Number({ minimum: 0 })),
    /** Sensor reads that failed since the agent started. */
    driver_errors: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  // Other agents (cameras) may add fields; unknown ones are ignored, not refused.
  { additionalProperties: true },
)
export type DeviceStatus = Static<typeof DeviceStatus>

/** `devices/{id}/config`, retained, gateway to device. */
export const DeviceConfig = Type.Object(
  {
    interval_s: Type.Optional(Type.Number({ minimum: 0.05, maximum: 86_400 })),
  },
  { additionalProperties: true },
)
export type DeviceConfig = Static<typeof DeviceConfig>

export const DeviceCommand = Type.Object(
  {
    id: Type.Optional(Type.String({ maxLength: 64 })),
    cmd: Type.String({ minLength: 1, maxLength: 32 }),
    args: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
)
export type DeviceCommand = Static<typeof DeviceCommand>

export const CommandAck = Type.Object(
  {
    id: Type.Union([Type.String(), Type.Null()]),
    cmd: Type.String(),
    ok: Type.Boolean(),
    ts: Type.String(),
    result: Type.Optional(Type.Unknown()),
    error: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
)
export type CommandAck = Static<typeof CommandAck>
