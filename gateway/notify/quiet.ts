import { severityRank, type Severity } from '../alerts/types.ts'
import type { ContactStore } from './contacts.ts'
import type { OutboxStore } from './store.ts'
import type { ContactChannel } from './types.ts'

// Quiet hours: the gateway-wide `notify.quietHours` and each contact's own `quiet_hours`
// (docs/notify.md "Quiet hours"). Times are Vietnam's (Asia/Ho_Chi_Minh, UTC+7 all year: no
// daylight saving since 1975), so a fixed offset is exact and needs no time-zone database.

const VN_OFFSET_MS = 7 * 3_600_000
const DAY_MS = 86_400_000

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number)
  return (h ?? 0) * 60 + (m ?? 0)
}

/** When `t` falls in quiet hours (Vietnam time, UTC+7), the epoch ms at which they end. */
export function quietUntil(t: number, q: { start: string; end: string } | undefined): number | undefined {
  if (!q) return undefined
  const local = t + VN_OFFSET_MS
  const dayStart = local - (local % DAY_MS)
  const minute = Math.floor((local - dayStart) / 60_000)
  const s = minutesOf(q.start)
  const e = minutesOf(q.end)
  if (s === e) return undefined
  const inQuiet = s < e ? minute >= s && minute < e : minute >= s || minute < e
  if (!inQuiet) return undefined
  const endLocal = dayStart + e * 60_000 + (s > e && minute >= s ? DAY_MS : 0)
  return endLocal - VN_OFFSET_MS
}

interface Due {
  id: number
  alert_id: string | null
  contact_id: string
  channel: ContactChannel
  severity: Severity
  state: string
}

export type QuietDecision =
  | { action: 'send' }
  /** Keep the row in state `deferred` until `until` (the end of the contact's quiet hours). */
  | { action: 'defer'; until: number; note: string }
  /** The alert was resolved while the row waited and the contact never heard of it: record why, do not send. */
  | { action: 'skip'; note: string }

/** What to do with an outbox row that is due, given its contact's quiet hours. */
export function quietGate(store: OutboxStore, contacts: ContactStore) {
  return async (row: Due, t: number): Promise<QuietDecision> => {
    if (row.state === 'deferred' && row.alert_id) {
      // Waking someone at the end of the night for a flood already over is noise; but a contact
      // told of the opening before their quiet hours began still hears that it ended.
      const a = await store.alertState(row.alert_id)
      if (a?.state === 'resolved' && !(await store.toldBefore(row.alert_id, row.contact_id, row.channel))) {
        return { action: 'skip', note: `alert resolved at ${a.resolved_at ?? '?'} during the contact's quiet hours; not sent` }
      }
    }
    const q = contacts.get(row.contact_id)?.quiet_hours
    if (!q || severityRank(row.severity) >= severityRank(q.bypass)) return { action: 'send' }
    const until = quietUntil(t, { start: q.from, end: q.to })
    if (until === undefined) return { action: 'send' }
    return {
      action: 'defer',
      until,
      note: `quiet hours ${q.from}-${q.to} of the contact (below ${q.bypass}); sent at ${new Date(until).toISOString()}`,
    }
  }
}
