// Escalation: an open alert nobody acknowledged goes to the next contact tier every `afterMs`
// (docs/notify.md "Escalation"; configured under notify.escalation, passed in by app.ts). The
// engine decides and records it as an alert change like any other; the routers (the notifier's
// outbox) only route that change.
import type { AlertingState } from './alerting-state.ts'
import { emitAfterCommit, record } from './fan-out.ts'
import type { AlertChange } from './types.ts'

export interface EscalationOptions {
  /** An alert left unacknowledged this long goes to the next tier (and again after as long again). */
  afterMs: number
  /** The highest tier an alert escalates to. */
  maxTier: number
  /** How often unacknowledged alerts are checked. */
  checkMs: number
}

/** Marks an open alert escalated to `tier` with a history entry, in the caller's transaction. */
export function markEscalated(ctx: AlertingState, alertId: string, tier: number): AlertChange | undefined {
  const a = ctx.store.get(alertId)
  if (!a || a.state !== 'open') return undefined
  const at = new Date(ctx.now()).toISOString()
  ctx.store.update(alertId, { updated_at: at, escalatedTier: tier })
  return record(ctx, alertId, { at, action: 'escalated', severity: a.severity, level: a.level, state: a.state, by: 'system', tier })
}

/** Escalates every open alert whose time at its tier ran out, each in its own transaction, then emits the changes. */
export function escalateDue(ctx: AlertingState, esc: EscalationOptions): void {
  const t = ctx.now()
  const due = ctx.store.needingEscalation(t, esc.maxTier).filter((x) => t - x.attentionSince >= esc.afterMs * x.escalatedTier)
  const changes: AlertChange[] = []
  for (const x of due) {
    const c = ctx.store.transaction(() => markEscalated(ctx, x.id, x.escalatedTier + 1))
    if (c) changes.push(c)
  }
  if (changes.length > 0) emitAfterCommit(ctx, changes)
}
