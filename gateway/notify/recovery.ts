// Crash recovery: a row left in `sending` is sent again only through a channel whose provider
// de-duplicates our key (eSMS RequestId); for the others it becomes `uncertain` and is reported,
// because sending it again could deliver it twice.
import type { NotifyState } from './notify-state.ts'
import type { ContactChannel } from './types.ts'

export function recoverInterrupted(s: NotifyState): void {
  const interrupted = s.db.prepare("SELECT id, channel FROM outbox WHERE state = 'sending'").all() as Array<{
    id: number
    channel: ContactChannel
  }>
  for (const r of interrupted) {
    const ch = s.channels[r.channel]
    if (ch?.dedupByKey) s.st.setState.run('pending', s.now(), 'resent after restart (provider de-duplicates)', r.id)
    else {
      s.st.setState.run('uncertain', s.now(), 'interrupted by a restart; not resent to avoid a duplicate', r.id)
      s.m.uncertain.inc({ channel: r.channel })
      s.log.error({ outbox: r.id, channel: r.channel }, 'notification interrupted by a restart; check the provider log')
    }
  }
}
