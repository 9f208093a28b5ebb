import { randomBytes } from 'node:crypto'
import type { Alerting } from '../alerts/engine.ts'
import type { ChangeEntry } from '../alerts/types.ts'
import type { Webhook } from './registry.ts'

// A disabled subscription is told to admins as an alert of kind `webhook` (docs/webhooks.md): it
// shows on the console board and in GET /api/v1/alerts, goes out on MQTT and SSE like every alert,
// and stays open until someone resolves it. One open alert per subscription.

export function raiseWebhookDisabled(alerting: Pick<Alerting, 'store' | 'emitAfterCommit'>, w: Webhook, now: number): void {
  const store = alerting.store
  const subject = `webhook:${w.id}`
  const at = new Date(now).toISOString()
  const change = store.transaction(() => {
    if (store.active('webhooks', subject)) return undefined
    const id = `a${randomBytes(8).toString('hex')}`
    store.insert({
      id,
      rule: 'webhooks',
      kind: 'webhook',
      subject,
      severity: 'major',
      title: `Webhook ${w.url} disabled: ${w.disabled_reason ?? 'too many failed deliveries'}`,
      late: false,
      at,
      attentionSince: now,
    })
    const entry: ChangeEntry = {
      seq: store.nextSeq(id),
      at,
      action: 'opened',
      severity: 'major',
      state: 'open',
      by: 'system',
      note: w.disabled_reason,
    }
    store.appendHistory(id, entry)
    return { alert: store.get(id)!, change: entry }
  })
  if (change) alerting.emitAfterCommit([change])
}
