// One send of one outbox row: quiet hours (per contact, then the global ones for non-critical
// rows), the per-contact rate limit (held rows go out in a digest), then the provider request with
// retries and backoff. State `sending` is committed before the request (see recovery.ts).
import { idempotencyKey, type NotifyState, type OutboxRow, type Stored } from './notify-state.ts'
import { quietUntil } from './quiet.ts'
import type { SendResult } from './types.ts'

function backoff(s: NotifyState, attempts: number): number {
  // Exponential with jitter ("equal jitter"): half fixed, half random, so retries spread out.
  const exp = Math.min(s.cfg.retry.maxMs, s.cfg.retry.baseMs * 2 ** Math.max(0, attempts - 1))
  return Math.round(exp / 2 + Math.random() * (exp / 2))
}

/** Sends one row unless a gate (quiet hours, rate limit) holds it; `gate` false for test sends. */
export async function deliver(s: NotifyState, row: OutboxRow, gate: boolean): Promise<SendResult | undefined> {
  const { st, m, log, now } = s
  const channel = s.channels[row.channel]
  const msg = JSON.parse(row.message) as Stored
  if (!channel) {
    // Queued while a provider was configured; the gateway restarted without it.
    st.setState.run('undeliverable', row.next_at, s.undeliverable.counted(row.channel, 'no_provider'), row.id)
    return undefined
  }
  if (gate && !msg.digest) {
    const q = s.quiet(row, now())
    if (q.action === 'skip') {
      st.setState.run('skipped', row.next_at, q.note, row.id)
      m.skipped.inc({ channel: row.channel })
      log.info({ outbox: row.id, channel: row.channel, contact: row.contact_id }, q.note)
      return undefined
    }
    if (q.action === 'defer') {
      st.setState.run('deferred', q.until, q.note, row.id)
      return undefined
    }
  }
  if (gate && row.severity !== 'critical' && !msg.digest) {
    const until = quietUntil(now(), s.cfg.quietHours)
    if (until !== undefined) {
      st.setState.run('pending', until, 'quiet hours', row.id)
      return undefined
    }
    const n = (st.sentInWindow.get(row.contact_id, row.channel, now() - s.cfg.rateLimit.windowS * 1000) as { n: number }).n
    if (n >= s.cfg.rateLimit.max) {
      st.setState.run('held', row.next_at, 'rate limit: goes out in a digest', row.id)
      m.held.inc({ channel: row.channel })
      return undefined
    }
  }
  if (st.sending.run(row.id).changes === 0) return undefined
  const started = process.hrtime.bigint()
  let result: SendResult
  try {
    result = await channel.send(msg, idempotencyKey(row.key))
  } catch (err) {
    result = { ok: false, retry: true, code: 'exception', message: (err as Error).message }
  }
  m.latency.observe({ channel: row.channel }, Number(process.hrtime.bigint() - started) / 1e9)
  if (result.ok) {
    st.sent.run(now(), result.providerId, row.id)
    m.sent.inc({ channel: row.channel })
    return result
  }
  const attempts = row.attempts + 1
  const final = !result.retry || attempts >= s.cfg.retry.maxAttempts
  st.setState.run(
    final ? 'failed' : 'pending',
    final ? row.next_at : now() + backoff(s, attempts),
    `${result.code}: ${result.message}`.slice(0, 500),
    row.id,
  )
  m.failed.inc({ channel: row.channel, final: String(final) })
  ;(final ? log.error : log.warn).call(
    log,
    { outbox: row.id, channel: row.channel, code: result.code, attempts },
    final ? 'notification failed for good' : 'notification failed, will retry',
  )
  return result
}
