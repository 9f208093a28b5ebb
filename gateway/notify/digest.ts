// Digests: rows held by the per-contact rate limit go out as one message per contact and channel
// once the window has room again (docs/notify.md "Rate limit").
import { severityRank, type Severity } from '../alerts/types.ts'
import { infoRow, type NotifyState, type Stored } from './notify-state.ts'
import { digestMessage } from './templates.ts'

export async function makeDigests(s: NotifyState): Promise<void> {
  const { store, cfg, now } = s
  for (const g of await store.heldGroups()) {
    const n = await store.sentInWindow(g.contact_id, g.channel, now() - cfg.rateLimit.windowS * 1000)
    if (n >= cfg.rateLimit.max) continue
    await store.digest(g.contact_id, g.channel, (rows) => {
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
      // Keyed by the group's first held row: a digest of the same rows is queued once.
      return infoRow({
        key: `digest:${g.contact_id}:${g.channel}:${rows[0]!.id}`,
        contactId: g.contact_id,
        channel: g.channel,
        body,
        at: now(),
        severity: worst,
      })
    })
  }
}
