import Type, { type Static } from 'typebox'

/** The `ingest` section of the gateway configuration. */
export const IngestSection = Type.Object(
  {
    /** Station alarm levels (Decision 05/2020/QĐ-TTg), editable without a release. */
    stationsFile: Type.String({ minLength: 1, default: 'config/stations.yaml' }),
    /** Largest telemetry payload, bytes. */
    maxPayloadBytes: Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024, default: 1024 * 1024 }),
    /** How far ahead of the gateway clock a reading may be. */
    maxFutureSeconds: Type.Integer({ minimum: 0, maximum: 86_400, default: 300 }),
    /** Older readings are refused; keep it above the edge agents' queue age bound. */
    maxAgeDays: Type.Integer({ minimum: 1, maximum: 3650, default: 30 }),
    /**
     * A reading that arrives this long after its own time is stored marked late (ingest_late_total,
     * the rollups recomputed): a buffered replay. Not alerts.lateAfterS, which is shorter because an
     * alarm is about now (docs/operations.md "Late readings and late alerts").
     */
    lateAfterSeconds: Type.Integer({ minimum: 1, default: 300 }),
    /** Recently seen (device, seq, ts) keys kept for de-duplication; the store's writes are idempotent beyond it. */
    dedupWindow: Type.Integer({ minimum: 1000, default: 200_000 }),
    /** Telemetry messages parsed and written at once; more wait as raw payloads (bounds memory). */
    maxConcurrentMessages: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1000 }),
    /** Refusals kept per device for GET /devices/:id/rejects. */
    rejectsPerDevice: Type.Integer({ minimum: 1, maximum: 1000, default: 20 }),
  },
  { additionalProperties: false, default: {} },
)
export type IngestConfig = Static<typeof IngestSection>
