import type { AlertChange, HistoryNote } from '../alerts/types.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { NewOutboxRow, OutboxStore } from './store.ts'
import type { Channel, Contact, ContactChannel } from './types.ts'

// A notification that cannot go out (no provider for its channel, no address for the contact)
// must not vanish: it is kept as an outbox row in state `undeliverable`, noted in the alert's
// history and counted in notify_undeliverable_total (docs/operations.md, "Notifications").

export type UndeliverableReason = 'no_provider' | 'no_address'

/** Which configuration carries each channel (docs/operations.md, "Notifications"). */
const PROVIDER_HINT: Record<ContactChannel, string> = {
  sms: 'no SMS provider configured (notify.esms, notify.speedsms or notify.twilio)',
  zalo_zns: 'no Zalo ZNS configured (notify.zalo with notify.zalo.zns)',
  zalo_oa: 'no Zalo OA configured (notify.zalo with notify.zalo.oa)',
}

export const noProvider = (channel: ContactChannel): string => `${channel}: ${PROVIDER_HINT[channel]}`

/** Why a contact's channel cannot be delivered, if it cannot. */
export function undeliverableReason(
  channels: Partial<Record<ContactChannel, Channel>>,
  c: Pick<Contact, 'phone' | 'zalo_user_id'>,
  channel: ContactChannel,
): UndeliverableReason | undefined {
  if (!channels[channel]) return 'no_provider'
  if (channel === 'zalo_oa' ? !c.zalo_user_id : !c.phone) return 'no_address'
  return undefined
}

/** The warnings a new contact's answer carries: one per channel no provider carries. */
export function contactWarnings(channels: Partial<Record<ContactChannel, Channel>>, wanted: readonly ContactChannel[]): string[] {
  return [...new Set(wanted)].filter((ch) => !channels[ch]).map((ch) => `${noProvider(ch)}; messages to this contact cannot be delivered`)
}

/** One warning line per channel that contacts use and no provider carries (at start). */
export function warnUnconfigured(channels: Partial<Record<ContactChannel, Channel>>, contacts: readonly Contact[], log: Logger): void {
  const users = new Map<ContactChannel, number>()
  for (const c of contacts) for (const ch of c.channels) if (!channels[ch]) users.set(ch, (users.get(ch) ?? 0) + 1)
  for (const [channel, n] of users) {
    log.warn({ channel, contacts: n }, `${noProvider(channel)}; ${n} contact${n === 1 ? '' : 's'} on ${channel} will not receive alerts`)
  }
}

const detail = (channel: ContactChannel, reason: UndeliverableReason) =>
  reason === 'no_provider' ? noProvider(channel) : `${channel}: contact has no ${channel === 'zalo_oa' ? 'Zalo user id' : 'phone number'}`

interface Noted {
  key: string
  channel: ContactChannel
  reason: UndeliverableReason
  alertId: string
  contact: string
}

/**
 * Records undeliverable notifications: `inTx` inside the alert change's transaction answers the
 * outbox rows to write with the change and notes the history entries; `afterCommit` counts and
 * logs those that committed.
 */
export function undeliverableRecorder(store: OutboxStore, metrics: Metrics, log: Logger) {
  const counter = metrics.counter(
    'notify_undeliverable_total',
    'Notifications that could not be sent: no provider for the channel, or no address',
    ['channel', 'reason'],
  )
  let noted: Noted[] = []
  return {
    inTx(
      change: AlertChange,
      misses: ReadonlyArray<{ contact: Contact; channel: ContactChannel; reason: UndeliverableReason; message: string }>,
      t: number,
      note: HistoryNote | undefined,
    ): NewOutboxRow[] {
      const rows: NewOutboxRow[] = []
      if (misses.length === 0) return rows
      const a = change.alert
      const groups = new Map<string, { channel: ContactChannel; reason: UndeliverableReason; contacts: string[] }>()
      for (const m of misses) {
        const key = `${a.id}:${change.change.seq}:${m.contact.id}:${m.channel}`
        rows.push({
          key,
          alert_id: a.id,
          change_seq: change.change.seq,
          contact_id: m.contact.id,
          channel: m.channel,
          severity: a.severity,
          message: m.message,
          state: 'undeliverable',
          next_at: t,
          created_at: t,
          last_error: `${m.reason}: ${detail(m.channel, m.reason)}`,
        })
        noted.push({ key, channel: m.channel, reason: m.reason, alertId: a.id, contact: m.contact.id })
        const g = `${m.channel}:${m.reason}`
        const group = groups.get(g) ?? { channel: m.channel, reason: m.reason, contacts: [] }
        group.contacts.push(m.contact.id)
        groups.set(g, group)
      }
      if (!note) return rows
      for (const g of groups.values()) {
        note({
          at: new Date(t).toISOString(),
          action: 'notification_undeliverable',
          severity: a.severity,
          level: a.level,
          state: a.state,
          by: 'system',
          channel: g.channel,
          reason: g.reason,
          contacts: g.contacts,
          note: `${change.change.action}: ${g.contacts.length} contact${g.contacts.length === 1 ? '' : 's'} not notified; ${detail(g.channel, g.reason)}`,
        })
      }
      return rows
    },
    async afterCommit(): Promise<void> {
      const batch = noted
      noted = []
      if (batch.length === 0) return
      // A transaction that rolled back left nothing to report.
      const stored = await store.present(batch.map((n) => n.key))
      for (const n of batch) {
        if (!stored.has(n.key)) continue
        counter.inc({ channel: n.channel, reason: n.reason })
        log.warn(
          { alert: n.alertId, contact: n.contact, channel: n.channel, reason: n.reason },
          `notification not sent: ${detail(n.channel, n.reason)}`,
        )
      }
    },
    /** A row already in the outbox whose channel has no provider now (the configuration changed). */
    counted(channel: ContactChannel, reason: UndeliverableReason): string {
      counter.inc({ channel, reason })
      return `${reason}: ${detail(channel, reason)}`
    },
  }
}
