// Human actions on an alert (POST /api/v1/alerts/{id}/ack and /resolve, docs/api.md): guarded
// against a missing or already settled alert before anything changes, then stored, recorded and
// fanned out like any other change.
import type { AlertingState, SilenceState } from './alerting-state.ts'
import { AlertError } from './errors.ts'
import { emitAfterCommit, record } from './fan-out.ts'
import type { LevelState } from './levels.ts'
import type { Alert } from './types.ts'

export function human(ctx: AlertingState, id: string, by: string, note: string | undefined, action: 'acknowledged' | 'resolved'): Alert {
  const c = ctx.store.transaction(() => {
    const a = ctx.store.get(id)
    if (!a) throw new AlertError('not_found', `alert ${id} not found: list alerts with GET /api/v1/alerts`)
    if (a.state === 'resolved')
      throw new AlertError('conflict', `alert ${id} is already resolved (by ${a.resolved?.by ?? 'system'} at ${a.resolved?.at ?? '?'})`)
    if (action === 'acknowledged' && a.state === 'acknowledged')
      throw new AlertError(
        'conflict',
        `alert ${id} is already acknowledged by ${a.acknowledged?.by ?? '?'} at ${a.acknowledged?.at ?? '?'}`,
      )
    const at = new Date(ctx.now()).toISOString()
    const who = { by, at, note }
    ctx.store.update(
      id,
      action === 'acknowledged'
        ? { updated_at: at, state: 'acknowledged', acknowledged: who }
        : { updated_at: at, state: 'resolved', resolved: who },
    )
    if (action === 'resolved') {
      // The condition may still hold: it opens a new alert only when it comes back (clears, then rises).
      const subject = ctx.store.subjectOf(id)!
      const key = ctx.keys.of(a.rule, subject)
      const st = ctx.states.get(key) ?? (ctx.store.loadRuleState(a.rule, subject) as (LevelState & SilenceState) | undefined)
      if (st) {
        st.alertId = null
        ctx.store.saveRuleState(a.rule, subject, st)
      }
      const sil = ctx.silence.get(key)
      if (sil) {
        sil.alertId = null
        sil.lastSeen = ctx.now()
        ctx.store.saveRuleState(a.rule, subject, sil)
      }
    }
    return record(ctx, id, {
      at,
      action,
      severity: a.severity,
      level: a.level,
      state: action === 'acknowledged' ? 'acknowledged' : 'resolved',
      by,
      note,
    })
  })
  emitAfterCommit(ctx, [c])
  return c.alert
}
