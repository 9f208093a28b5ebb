// Human actions on an alert (POST /api/v1/alerts/{id}/ack and /resolve, docs/api.md): guarded
// against a missing or already settled alert before anything changes, then stored, recorded and
// fanned out like any other change. Run in the order of the alert's subject (ordering.ts), so that
// a resolution and a reading of the same subject do not both write its rule state.
import type { AlertingState, SilenceState } from './alerting-state.ts'
import { AlertError } from './errors.ts'
import { emitAfterCommit, record } from './fan-out.ts'
import type { LevelState } from './levels.ts'
import { partitionOf } from './ordering.ts'
import type { Alert } from './types.ts'

const notFound = (id: string) => new AlertError('not_found', `alert ${id} not found: list alerts with GET /api/v1/alerts`)

export async function human(
  ctx: AlertingState,
  id: string,
  by: string,
  note: string | undefined,
  action: 'acknowledged' | 'resolved',
): Promise<Alert> {
  const subject = await ctx.store.subjectOf(id)
  if (subject === undefined) throw notFound(id)
  return ctx.queue.run(partitionOf(subject), () => inOrder(ctx, { id, by, note, action }))
}

async function inOrder(
  ctx: AlertingState,
  { id, by, note, action }: { id: string; by: string; note: string | undefined; action: 'acknowledged' | 'resolved' },
): Promise<Alert> {
  const c = await ctx.store.transaction(async (tx) => {
    const a = await tx.get(id)
    if (!a) throw notFound(id)
    if (a.state === 'resolved')
      throw new AlertError('conflict', `alert ${id} is already resolved (by ${a.resolved?.by ?? 'system'} at ${a.resolved?.at ?? '?'})`)
    if (action === 'acknowledged' && a.state === 'acknowledged')
      throw new AlertError(
        'conflict',
        `alert ${id} is already acknowledged by ${a.acknowledged?.by ?? '?'} at ${a.acknowledged?.at ?? '?'}`,
      )
    const at = new Date(ctx.now()).toISOString()
    const who = { by, at, note }
    await tx.update(
      id,
      action === 'acknowledged'
        ? { updated_at: at, state: 'acknowledged', acknowledged: who }
        : { updated_at: at, state: 'resolved', resolved: who },
    )
    if (action === 'resolved') {
      // The condition may still hold: it opens a new alert only when it comes back (clears, then rises).
      const subject = (await tx.subjectOf(id))!
      const key = ctx.keys.of(a.rule, subject)
      const st = ctx.states.get(key) ?? ((await tx.loadRuleState(a.rule, subject)) as (LevelState & SilenceState) | undefined)
      if (st) {
        st.alertId = null
        await tx.saveRuleStates([{ rule: a.rule, subject, state: st }])
      }
      const sil = ctx.silence.get(key)
      if (sil) {
        sil.alertId = null
        sil.lastSeen = ctx.now()
        await tx.saveRuleStates([{ rule: a.rule, subject, state: sil }])
      }
    }
    return record(ctx, tx, id, {
      at,
      action,
      severity: a.severity,
      level: a.level,
      state: action === 'acknowledged' ? 'acknowledged' : 'resolved',
      by,
      note,
    })
  })
  await emitAfterCommit(ctx, [c])
  return c.alert
}
