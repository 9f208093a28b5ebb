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
  const { store, m, log, now } = s
  const channel = s.channels[row.channel]
  const msg = JSON.parse(row.message) as Stored
  if (!channel) {
    // Queued while a provider was configured; the gateway restarted without it.
    await store.setState(row.id, 'undeliverable', row.next_at, s.undeliverable.counted(row.channel, 'no_provider'))
    return undefined
  }
  if (gate && !msg.digest) {
    const q = await s.quiet(row, now())
    if (q.action === 'skip') {
      await store.setState(row.id, 'skipped', row.next_at, q.note)
      m.skipped.inc({ channel: row.channel })
      log.info({ outbox: row.id, channel: row.channel, contact: row.contact_id }, q.note)
      return undefined
    }
    if (q.action === 'defer') {
      await store.setState(row.id, 'deferred', q.until, q.note)
      return undefined
    }
  }
  if (gate && row.severity !== 'critical' && !msg.digest) {
    const until = quietUntil(now(), s.cfg.quietHours)
    if (until !== undefined) {
      await store.setState(row.id, 'pending', until, 'quiet hours')
      return undefined
    }
    const n = await store.sentInWindow(row.contact_id, row.channel, now() - s.cfg.rateLimit.windowS * 1000)
    if (n >= s.cfg.rateLimit.max) {
      await store.setState(row.id, 'held', row.next_at, 'rate limit: goes out in a digest')
      m.held.inc({ channel: row.channel })
      return undefined
    }
  }
  // Committed before the request: a sender killed during it leaves the row in `sending`, for
  // recovery.ts. In a cluster only under this node's live claim (store.ts markSending).
  if (!(await store.markSending(row.id, now()))) return undefined
  const started = process.hrtime.bigint()
  let result: SendResult
  try {
    result = await channel.send(msg, idempotencyKey(row.key))
  } catch (err) {
    result = { ok: false, retry: true, code: 'exception', message: (err as Error).message }
  }
  m.latency.observe({ channel: row.channel }, Number(process.hrtime.bigint() - started) / 1e9)
  if (result.ok) {
    await store.markSent(row.id, now(), result.providerId)
    m.sent.inc({ channel: row.channel })
    return result
  }
  const attempts = row.attempts + 1
  const final = !result.retry || attempts >= s.cfg.retry.maxAttempts
  await store.setState(
    row.id,
    final ? 'failed' : 'pending',
    final ? row.next_at : now() + backoff(s, attempts),
    `${result.code}: ${result.message}`.slice(0, 500),
  )
  m.failed.inc({ channel: row.channel, final: String(final) })
  ;(final ? log.error : log.warn).call(
    log,
    { outbox: row.id, channel: row.channel, code: result.code, attempts },
    final ? 'notification failed for good' : 'notification failed, will retry',
  )
  return result
}
