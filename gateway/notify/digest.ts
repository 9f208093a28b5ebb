// Digests: rows held by the per-contact rate limit go out as one message per contact and channel
// once the window has room again (docs/notify.md "Rate limit").
import { severityRank, type Severity } from '../alerts/types.ts'
import type { NotifyState, OutboxRow, Stored } from './notify-state.ts'
import { digestMessage } from './templates.ts'
import type { ContactChannel } from './types.ts'

export function makeDigests(s: NotifyState): void {
  const { st, cfg, now } = s
  const groups = st.held.all() as Array<{ contact_id: string; channel: ContactChannel; first: number; n: number }>
  for (const g of groups) {
    const n = (st.sentInWindow.get(g.contact_id, g.channel, now() - cfg.rateLimit.windowS * 1000) as { n: number }).n
    if (n >= cfg.rateLimit.max) continue
    s.db.transaction(() => {
      const rows = st.heldRows.all(g.contact_id, g.channel) as OutboxRow[]
      if (rows.length === 0) return
      const items = rows.map((r) => ({ severity: r.severity, summary: (JSON.parse(r.message) as Stored).summary }))
      const first = JSON.parse(rows[0]!.message) as Stored
      const body: Stored = {
        ...digestMessage(items, cfg.rateLimit.windowS, g.channel, s.ctx, new Date(now()).toISOString()),
        phone: first.phone,
        zaloUserId: first.zaloUserId,
        summary: `${items.length} alerts`,
        digest: true,
      }
      const worst = items.reduce<Severity>((w, i) => (severityRank(i.severity) > severityRank(w) ? i.severity : w), 'info')
      st.insert.run({
        key: `digest:${g.contact_id}:${g.channel}:${g.first}`,
        alert_id: null,
        change_seq: null,
        contact_id: g.contact_id,
        channel: g.channel,
        severity: worst,
        message: JSON.stringify(body),
        next_at: now(),
        created_at: now(),
      })
      st.digested.run(g.contact_id, g.channel)
    })()
  }
}
