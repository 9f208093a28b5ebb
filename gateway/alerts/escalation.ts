// Escalation support for the notifier (gateway/notify), which decides when an unacknowledged
// alert goes to the next contact tier: the engine's part is marking the alert and its history.
import type { AlertingState } from './alerting-state.ts'
import { record } from './fan-out.ts'
import type { AlertChange } from './types.ts'

/** Marks an open alert escalated to `tier` with a history entry, in the caller's transaction. */
export function markEscalated(ctx: AlertingState, alertId: string, tier: number): AlertChange | undefined {
  const a = ctx.store.get(alertId)
  if (!a || a.state !== 'open') return undefined
  const at = new Date(ctx.now()).toISOString()
  ctx.store.update(alertId, { updated_at: at, escalatedTier: tier })
  return record(ctx, alertId, { at, action: 'escalated', severity: a.severity, level: a.level, state: a.state, by: 'system', tier })
}
