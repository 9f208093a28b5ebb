import Type, { type Static } from 'typebox'

// The `notify` section of the gateway configuration (compose as `notify: NotifySection`).
// Provider URLs default to the documented endpoints (domain/notify-providers.md); tests point
// them at local stand-ins.

const Url = Type.String({ pattern: '^https?://' })

export const EsmsConfig = Type.Object(
  {
    url: Url,
    apiKey: Type.String({ minLength: 1 }),
    secretKey: Type.String({ minLength: 1 }),
    brandname: Type.String({ minLength: 1, maxLength: 11 }),
    /** "2": customer care (operational messages). */
    smsType: Type.String({ default: '2' }),
    sandbox: Type.Boolean({ default: false }),
    callbackUrl: Type.Optional(Url),
  },
  { additionalProperties: false },
)

export const SpeedSmsConfig = Type.Object(
  {
    url: Url,
    token: Type.String({ minLength: 1 }),
    sender: Type.String({ minLength: 1 }),
    smsType: Type.Integer({ default: 3 }),
  },
  { additionalProperties: false },
)

export const TwilioConfig = Type.Object(
  {
    url: Url,
    accountSid: Type.String({ pattern: '^AC[0-9a-fA-F]{32}$' }),
    authToken: Type.String({ minLength: 1 }),
    from: Type.Optional(Type.String({ pattern: '^\\+[1-9][0-9]{6,14}$' })),
    messagingServiceSid: Type.Optional(Type.String({ pattern: '^MG[0-9a-fA-F]{32}$' })),
  },
  { additionalProperties: false },
)

export const ZaloConfig = Type.Object(
  {
    appId: Type.String({ minLength: 1 }),
    secretKey: Type.String({ minLength: 1 }),
    oauthUrl: Url,
    /** First refresh token (from the OA authorisation); later ones are kept in alerts.db. */
    refreshToken: Type.String({ minLength: 1 }),
    accessToken: Type.Optional(Type.String({ minLength: 1 })),
    zns: Type.Optional(
      Type.Object(
        {
          url: Url,
          /** Registered ZNS template ids: `alert` (alert changes, digests) and `test`. */
          templates: Type.Object(
            { alert: Type.String({ minLength: 1 }), test: Type.String({ minLength: 1 }) },
            { additionalProperties: false },
          ),
          development: Type.Boolean({ default: false }),
        },
        { additionalProperties: false },
      ),
    ),
    oa: Type.Optional(
      Type.Object(
        {
          url: Url,
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
)

export const NotifySection = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    /** Which SMS plugin carries the `sms` channel. */
    smsProvider: Type.Optional(Type.Union([Type.Literal('esms'), Type.Literal('speedsms'), Type.Literal('twilio')])),
    esms: Type.Optional(EsmsConfig),
    speedsms: Type.Optional(SpeedSmsConfig),
    twilio: Type.Optional(TwilioConfig),
    zalo: Type.Optional(ZaloConfig),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000 }),
    /**
     * Several nodes (postgres.url): how long a node's claim on an outbox row lasts; a row whose
     * node stopped is taken over by another after it. Must exceed timeoutMs (docs/operations.md
     * "Notifications across nodes").
     */
    claimMs: Type.Integer({ minimum: 1000, maximum: 600_000, default: 60_000 }),
    retry: Type.Object(
      {
        baseMs: Type.Integer({ minimum: 10, default: 2000 }),
        maxMs: Type.Integer({ minimum: 100, default: 600_000 }),
        maxAttempts: Type.Integer({ minimum: 1, maximum: 100, default: 12 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Per contact and channel: at most `max` messages per `windowS`; the rest go out as one digest. Critical alerts always pass. */
    rateLimit: Type.Object(
      {
        max: Type.Integer({ minimum: 1, default: 6 }),
        windowS: Type.Integer({ minimum: 1, default: 900 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Local time (UTC+7, Asia/Ho_Chi_Minh) when non-critical alerts wait until the end. */
    quietHours: Type.Optional(
      Type.Object(
        {
          start: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' }),
          end: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' }),
        },
        { additionalProperties: false },
      ),
    ),
    /** An open alert unacknowledged for `afterS` × tier goes to the next tier of contacts. */
    escalation: Type.Object(
      {
        afterS: Type.Integer({ minimum: 1, default: 900 }),
        maxTier: Type.Integer({ minimum: 1, maximum: 9, default: 3 }),
        checkMs: Type.Integer({ minimum: 10, default: 10_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Sign-off in messages, e.g. "IOC Hue". */
    sender: Type.String({ minLength: 1, maxLength: 20, default: 'IOC Hue' }),
  },
  { additionalProperties: false, default: {} },
)

export type NotifyConfig = Static<typeof NotifySection>
