import Type, { type Static } from 'typebox'

// Config section `reports` (docs/reports.md, config/gateway.yaml).
export const ReportsSection = Type.Object(
  {
    daily: Type.Object(
      {
        /** Write and announce the daily report. */
        enabled: Type.Boolean({ default: true }),
        /** Local hour (Asia/Ho_Chi_Minh, 0-23) at which the report of the day before is made. */
        hour: Type.Integer({ minimum: 0, maximum: 23, default: 7 }),
        /** Language of the written report; the announcement is in Vietnamese. */
        lang: Type.Union([Type.Literal('vi'), Type.Literal('en')], { default: 'vi' }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** The longest a reading (sensors) or a frame (cameras) holds its level, in seconds: time at level stops counting past it. */
    holdMaxS: Type.Object(
      {
        sensors: Type.Integer({ minimum: 60, maximum: 86_400, default: 900 }),
        cameras: Type.Integer({ minimum: 10, maximum: 86_400, default: 300 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
)
export type ReportsConfig = Static<typeof ReportsSection>
