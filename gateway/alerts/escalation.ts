// Escalation: an open alert nobody acknowledged goes to the next contact tier every `afterMs`
// (docs/notify.md "Escalation"; configured under notify.escalation, passed in by app.ts). The
// engine decides and records it as an alert change like any other; the routers (the notifier's
// outbox) only route that change.
import type { AlertingState } from './alerting-state.ts'
import { emitAfterCommit, record } from './fan-out.ts'
import { partitionOf } from './ordering.ts'
import type { AlertTx } from './store.ts'
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
export async function markEscalated(ctx: AlertingState, tx: AlertTx, alertId: string, tier: number): Promise<AlertChange | undefined> {
  const a = await tx.get(alertId)
  // Acknowledged, resolved or escalated meanwhile (the candidate was read outside the subject's order).
  if (!a || a.state !== 'open' || a.tier >= tier) return undefined
  const at = new Date(ctx.now()).toISOString()
  await tx.update(alertId, { updated_at: at, escalatedTier: tier })
  return record(ctx, tx, alertId, { at, action: 'escalated', severity: a.severity, level: a.level, state: a.state, by: 'system', tier })
}

/**
 * Escalates every open alert whose time at its tier ran out, each in its own transaction in its
 * subject's order (after an acknowledgement queued before it), then emits the changes.
 */
export async function escalateDue(ctx: AlertingState, esc: EscalationOptions): Promise<void> {
  const t = ctx.now()
  const due = (await ctx.store.needingEscalation(t, esc.maxTier)).filter((x) => t - x.attentionSince >= esc.afterMs * x.escalatedTier)
  const done = await Promise.all(
    due.map(async (x) => {
      const subject = await ctx.store.subjectOf(x.id)
      if (subject === undefined) return undefined
      return ctx.queue.run(partitionOf(subject), () => ctx.store.transaction((tx) => markEscalated(ctx, tx, x.id, x.escalatedTier + 1)))
    }),
  )
  // In the order the store listed them, whichever transaction finished first.
  const changes = done.filter((c): c is AlertChange => c !== undefined)
  if (changes.length > 0) await emitAfterCommit(ctx, changes)
}
