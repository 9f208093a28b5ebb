// Routing: an alert change becomes outbox rows, one per matching contact and channel, written in
// the alert change's own transaction (docs/notify.md). What no provider or address can carry is
// written as `undeliverable` and noted in the alert's history (undeliverable.ts).
import type { AlertTx } from '../alerts/store.ts'
import { severityRank, type AlertChange, type HistoryNote } from '../alerts/types.ts'
import { toGsm7 } from './gsm7.ts'
import { address, type NotifyState, type Stored } from './notify-state.ts'
import { alertMessage } from './templates.ts'
import type { NewOutboxRow } from './store.ts'
import type { Contact, ContactChannel } from './types.ts'
import { undeliverableReason, type UndeliverableReason } from './undeliverable.ts'

/** Whether a contact is told of this change: escalations go to their tier only, the rest to tiers up to the alert's. */
export function matches(c: Contact, ch: AlertChange): boolean {
  const a = ch.alert
  if (ch.change.action === 'escalated') {
    if (c.tier !== ch.change.tier) return false
  } else if (c.tier > a.tier) return false
  if (severityRank(a.severity) < severityRank(c.min_severity)) return false
  if (c.kinds && !c.kinds.includes(a.kind)) return false
  if (c.stations && !(a.station && c.stations.includes(a.station))) return false
  if (c.districts && !(a.district && c.districts.includes(a.district))) return false
  return true
}

/**
 * Inside the alert change's transaction: its outbox rows (acknowledgements are not sent), written
 * through `tx` so that they commit with the change.
 */
export async function routeInTx(s: NotifyState, change: AlertChange, note: HistoryNote | undefined, tx: AlertTx): Promise<void> {
  if (s.cfg.enabled === false || change.change.action === 'acknowledged') return
  const t = s.now()
  const rows: NewOutboxRow[] = []
  const misses: Array<{ contact: Contact; channel: ContactChannel; reason: UndeliverableReason; message: string }> = []
  for (const c of s.contacts.all()) {
    if (!matches(c, change)) continue
    for (const channel of c.channels) {
      const to = address(c, channel)
      const reason = undeliverableReason(s.channels, c, channel)
      if (reason || !to) {
        misses.push({
          contact: c,
          channel,
          reason: reason ?? 'no_address',
          message: JSON.stringify({ ...alertMessage(change, channel, s.ctx), ...to, summary: toGsm7(change.alert.title) }),
        })
        continue
      }
      const body: Stored = { ...alertMessage(change, channel, s.ctx), ...to, summary: toGsm7(change.alert.title) }
      rows.push({
        key: `${change.alert.id}:${change.change.seq}:${c.id}:${channel}`,
        alert_id: change.alert.id,
        change_seq: change.change.seq,
        contact_id: c.id,
        channel,
        severity: change.alert.severity,
        message: JSON.stringify(body),
        state: 'pending',
        next_at: t,
        created_at: t,
        last_error: null,
      })
    }
  }
  rows.push(...s.undeliverable.inTx(change, misses, t, note))
  await s.store.insertInTx(tx, rows)
}
