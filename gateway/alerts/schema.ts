import Type from 'typebox'
import { ALERT_KINDS, ALERT_STATES, SEVERITIES } from './types.ts'

// The alert shape of docs/api.md "Alerts" ("id", "kind", "severity", "level"?, "station"?, "device"?, "value"?,
// "threshold"?, "state", "opened_at", "updated_at", "history"), plus what officers need to act.

const When = Type.String({ format: 'date-time' })
const Who = Type.Object({ by: Type.String(), at: When, note: Type.Optional(Type.String()) }, { additionalProperties: false })

export const AlertKindSchema = Type.Enum([...ALERT_KINDS])
export const SeveritySchema = Type.Enum([...SEVERITIES], { description: 'info < minor < major < critical' })
export const AlertStateSchema = Type.Enum([...ALERT_STATES])

export const HistoryEntrySchema = Type.Object(
  {
    seq: Type.Integer(),
    at: When,
    event_ts: Type.Optional(When),
    action: Type.Enum(['opened', 'raised', 'lowered', 'acknowledged', 'resolved', 'escalated', 'notification_undeliverable']),
    severity: SeveritySchema,
    level: Type.Optional(Type.Number()),
    value: Type.Optional(Type.Number()),
    state: AlertStateSchema,
    by: Type.String(),
    note: Type.Optional(Type.String()),
    late: Type.Optional(Type.Boolean()),
    tier: Type.Optional(Type.Integer()),
    channel: Type.Optional(Type.String({ description: 'notification_undeliverable: the contact channel (sms, zalo_zns, zalo_oa)' })),
    reason: Type.Optional(Type.String({ description: 'notification_undeliverable: no_provider or no_address' })),
    contacts: Type.Optional(Type.Array(Type.String(), { description: 'notification_undeliverable: the subscription ids not told' })),
  },
  { additionalProperties: false },
)

export const AlertSchema = Type.Object(
  {
    id: Type.String(),
    rule: Type.String(),
    kind: AlertKindSchema,
    severity: SeveritySchema,
    level: Type.Optional(Type.Number({ description: 'Alarm level (water: I=1, II=2, III=3) or step of the rule' })),
    station: Type.Optional(Type.String()),
    device: Type.Optional(Type.String()),
    zone: Type.Optional(Type.String()),
    district: Type.Optional(Type.String()),
    value: Type.Optional(Type.Number()),
    threshold: Type.Optional(Type.Number()),
    unit: Type.Optional(Type.String()),
    state: AlertStateSchema,
    title: Type.String({ description: 'Vietnamese summary' }),
    late: Type.Boolean({ description: 'Raised by readings replayed after an outage' }),
    tier: Type.Integer({ description: 'Highest contact tier notified (escalation)' }),
    opened_at: When,
    updated_at: When,
    acknowledged: Type.Optional(Who),
    resolved: Type.Optional(Who),
    history: Type.Array(HistoryEntrySchema),
  },
  { additionalProperties: false },
)
