import Type, { type Static } from 'typebox'

// The `alerts` section of the gateway configuration (compose as `alerts: AlertsSection`).
export const AlertsSection = Type.Object(
  {
    /** Shipped rules; a copy replaced through PUT /api/v1/rules in <dataDir>/rules.yaml wins. */
    rulesFile: Type.String({ minLength: 1, default: 'config/rules.yaml' }),
    /**
     * A reading older than this on arrival marks the alert change it causes as late, so an officer
     * knows the alarm describes the past. Shorter than ingest.lateAfterSeconds (which marks stored
     * readings): docs/operations.md "Late readings and late alerts".
     */
    lateAfterS: Type.Integer({ minimum: 1, default: 120 }),
    /** How often silent devices are looked for. */
    silenceCheckS: Type.Integer({ minimum: 1, default: 5 }),
    /**
     * Cluster mode (postgres.url and redis.url): how many partitions the subjects' rule state is
     * divided into, each owned by one node (docs/operations.md "Alert rules across nodes"). The
     * same on every node; more partitions than nodes spread the load evenly.
     */
    partitions: Type.Integer({ minimum: 1, maximum: 1024, default: 32 }),
    /**
     * Cluster mode: how long an input whose partition has no owner (its node died, the lease not
     * yet expired) is held and offered again before it is given up (counted and logged). Longer
     * than postgres.leaseTtlMs plus a renewal, the takeover bound.
     */
    partitionHoldS: Type.Integer({ minimum: 1, maximum: 600, default: 30 }),
  },
  { additionalProperties: false, default: {} },
)

export type AlertsConfig = Static<typeof AlertsSection>

/** The createAlerting options this section sets. */
export function alertingOptions(cfg: AlertsConfig) {
  return { rulesFile: cfg.rulesFile, lateAfterMs: cfg.lateAfterS * 1000, silenceCheckMs: cfg.silenceCheckS * 1000 }
}
