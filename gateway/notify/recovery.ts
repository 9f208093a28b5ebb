// Recovery of interrupted sends: a row left in `sending` (its sender was killed during the
// provider request: at this gateway's restart, or in a cluster once the node's claim lapsed) is
// sent again only through a channel whose provider de-duplicates our key (eSMS RequestId); for the
// others it becomes `uncertain` and is reported, because sending it again could deliver it twice
// (docs/operations.md "Notifications across nodes").
import type { NotifyState } from './notify-state.ts'

export async function recoverInterrupted(s: NotifyState, startup: boolean): Promise<void> {
  for (const r of await s.store.abandoned(s.now(), startup)) {
    const ch = s.channels[r.channel]
    const why = startup ? 'a restart' : 'a sender that stopped (claim lapsed)'
    if (ch?.dedupByKey) await s.store.setState(r.id, 'pending', s.now(), `resent after ${why} (provider de-duplicates)`)
    else {
      await s.store.setState(r.id, 'uncertain', s.now(), `interrupted by ${why}; not resent to avoid a duplicate`)
      s.m.uncertain.inc({ channel: r.channel })
      s.log.error({ outbox: r.id, channel: r.channel }, `notification interrupted by ${why}; check the provider log`)
    }
  }
}
