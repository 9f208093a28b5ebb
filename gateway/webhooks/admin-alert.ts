import type { Alerting } from '../alerts/engine.ts'
import type { Webhook } from './registry.ts'

// A disabled subscription is told to admins as an alert of kind `webhook` (docs/webhooks.md): it
// shows on the console board and in GET /api/v1/alerts, goes out on MQTT and SSE like every alert,
// and stays open until someone resolves it. One open alert per subscription.

export async function raiseWebhookDisabled(alerting: Pick<Alerting, 'raiseSystemAlert'>, w: Webhook): Promise<void> {
  await alerting.raiseSystemAlert({
    rule: 'webhooks',
    kind: 'webhook',
    subject: `webhook:${w.id}`,
    severity: 'major',
    title: `Webhook ${w.url} disabled: ${w.disabled_reason ?? 'too many failed deliveries'}`,
    note: w.disabled_reason,
  })
}
