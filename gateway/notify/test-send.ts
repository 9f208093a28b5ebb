// Test sends (POST /api/v1/subscriptions/{id}/test, docs/api.md): one message to one contact on
// each of its channels, sent at once past quiet hours and the rate limit, each answered.
import { deliver } from './deliver.ts'
import { address, queueInfo, type NotifyState, type Stored } from './notify-state.ts'
import { testMessage } from './templates.ts'
import type { ContactChannel } from './types.ts'

export interface TestResult {
  channel: ContactChannel
  ok: boolean
  code?: string | undefined
  message?: string | undefined
}

export async function sendTest(s: NotifyState, contactId: string): Promise<TestResult[]> {
  const { store, now } = s
  const c = s.contacts.get(contactId)
  if (!c) throw Object.assign(new Error(`contact ${contactId} not found: list them with GET /api/v1/subscriptions`), { statusCode: 404 })
  const at = new Date(now()).toISOString()
  const out: TestResult[] = []
  for (const channel of c.channels) {
    const to = address(c, channel)
    if (!s.channels[channel]) {
      out.push({ channel, ok: false, code: 'not_configured', message: `channel ${channel} is not configured in notify` })
      continue
    }
    if (!to) {
      out.push({
        channel,
        ok: false,
        code: 'no_address',
        message: channel === 'zalo_oa' ? 'contact has no Zalo user id' : 'contact has no phone number',
      })
      continue
    }
    const key = `test:${c.id}:${channel}:${now()}`
    const body: Stored = { ...testMessage(c.name, channel, s.ctx, at), ...to, summary: 'test', test: true }
    // Claimed by this node: it sends the test now and answers how it went.
    await queueInfo(s, { key, contactId: c.id, channel, body, at: now() }, { claimed: true })
    const row = (await store.byKey(key))!
    const r = await deliver(s, row, false)
    out.push(
      r?.ok
        ? { channel, ok: true }
        : { channel, ok: false, code: r && !r.ok ? r.code : 'not_sent', message: r && !r.ok ? r.message : 'not sent' },
    )
  }
  return out
}
