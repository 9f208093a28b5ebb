// Announcements (e.g. a report is ready, docs/reports.md): one line queued for the contacts whose
// `kinds` list the notice's kind. SMS unaccented (GSM-7), Zalo OA in full; Zalo ZNS sends
// registered templates only and is skipped. The key makes it idempotent per contact and channel.
import { toGsm7 } from './gsm7.ts'
import { address, queueInfo, type NotifyState, type Stored } from './notify-state.ts'

/** Queues the notice; answers the rows queued. */
export async function announce(s: NotifyState, notice: { key: string; kind: string; text: string }): Promise<number> {
  const { cfg } = s
  if (cfg.enabled === false) return 0
  const t = s.now()
  let n = 0
  for (const c of s.contacts.all()) {
    if (!c.kinds?.includes(notice.kind)) continue
    for (const channel of c.channels) {
      const to = address(c, channel)
      if (channel === 'zalo_zns' || !to || !s.channels[channel]) continue
      const text = channel === 'sms' ? toGsm7(`${cfg.sender}: ${notice.text}`) : `${cfg.sender}: ${notice.text}`
      const body: Stored = { text, ...to, summary: toGsm7(notice.text) }
      n += await queueInfo(s, { key: `${notice.key}:${c.id}:${channel}`, contactId: c.id, channel, body, at: t })
    }
  }
  return n
}
