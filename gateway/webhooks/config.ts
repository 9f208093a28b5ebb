import Type, { type Static } from 'typebox'

// The `webhooks` section of the gateway configuration (docs/webhooks.md).
export const WebhooksSection = Type.Object(
  {
    /** A subscription is disabled after this many failed deliveries in a row (an admin alert says so). */
    maxConsecutiveFailures: Type.Integer({ minimum: 1, default: 20 }),
    /** First retry after this many ms; each next one doubles it, with up to 50 % jitter. */
    backoffBaseMs: Type.Integer({ minimum: 1, default: 5000 }),
    /** The longest wait between two attempts. */
    backoffMaxMs: Type.Integer({ minimum: 1, default: 3_600_000 }),
    /** A receiver that has not answered in this time has failed the attempt. */
    timeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
    /** How often due deliveries are looked for (new events are sent at once). */
    pollMs: Type.Integer({ minimum: 10, default: 1000 }),
  },
  { additionalProperties: false, default: {} },
)

export type WebhooksConfig = Static<typeof WebhooksSection>

/**
 * How long a node's claim on a delivery lasts in a cluster (postgres/store.ts), renewed as each
 * attempt starts: twice the attempt's timeout, so that a request and the write of its outcome end
 * well within it and no other node sends the same delivery meanwhile, while a delivery claimed by a
 * node that was lost is taken over soon after (docs/operations.md "Webhooks across nodes").
 */
export const webhookClaimMs = (cfg: Pick<WebhooksConfig, 'timeoutMs'>) => 2 * cfg.timeoutMs
