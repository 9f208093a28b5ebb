// Fan-out of alert changes: each change is recorded in the alert's history and handed to the
// router (the notifier's outbox) inside the transaction that makes it, then, once committed,
// published on MQTT (docs/mqtt.md "alerts/{kind}/{station}"), written as an annotation point and
// told to the listeners (SSE). A failing target is counted and logged; it never undoes the change.
import type { AlertingState } from './alerting-state.ts'
import type { AlertPoint } from './engine.ts'
import { AlertError } from './errors.ts'
import type { AlertChange, ChangeEntry } from './types.ts'

/** Inside a transaction: appends a history entry and hands the change to the router. */
export function record(ctx: AlertingState, alertId: string, entry: Omit<ChangeEntry, 'seq'>): AlertChange {
  const seq = ctx.store.nextSeq(alertId)
  const full: ChangeEntry = { seq, ...entry }
  ctx.store.appendHistory(alertId, full)
  const alert = ctx.store.get(alertId)
  if (!alert) throw new AlertError('not_found', `alert ${alertId} not found`)
  const change = { alert, change: full }
  ctx.router?.routeInTx(change)
  return change
}

/** After the transaction committed: publish, annotate and tell the listeners; then let the router send. */
export function emitAfterCommit(ctx: AlertingState, changes: AlertChange[]): void {
  for (const c of changes) {
    ctx.m.changes.inc({ kind: c.alert.kind, action: c.change.action })
    const topic = `alerts/${c.alert.kind}/${c.alert.station ?? c.alert.device ?? 'unknown'}`
    const { history: _h, ...rest } = c.alert
    const payload = JSON.stringify({ ...rest, change: c.change })
    try {
      const p = ctx.opts.publish?.(topic, payload, { qos: 1, retain: false })
      if (p && typeof (p as Promise<void>).catch === 'function')
        (p as Promise<void>).catch((err: unknown) => {
          ctx.m.publishFailed.inc({ target: 'mqtt' })
          ctx.log.warn({ err }, 'alert publish failed')
        })
    } catch (err) {
      ctx.m.publishFailed.inc({ target: 'mqtt' })
      ctx.log.warn({ err }, 'alert publish failed')
    }
    if (ctx.opts.annotate) {
      Promise.resolve()
        .then(() => ctx.opts.annotate?.(point(c)))
        .catch((err: unknown) => {
          ctx.m.publishFailed.inc({ target: 'store' })
          ctx.log.warn({ err }, 'alert annotation write failed')
        })
    }
    for (const l of ctx.listeners) {
      try {
        l(c)
      } catch (err) {
        ctx.log.warn({ err }, 'alert listener failed')
      }
    }
  }
  ctx.m.open.set(ctx.store.countOpen())
  if (changes.length > 0) ctx.router?.kick()
}

/** One alert change as a point of the `alerts` measurement (docs/data-model.md), for Grafana annotations. */
export function point(c: AlertChange): AlertPoint {
  const a = c.alert
  const tags: Record<string, string> = { kind: a.kind, rule: a.rule, severity: a.severity, state: a.state }
  if (a.station) tags.station = a.station
  if (a.device) tags.device = a.device
  const fields: Record<string, string | number> = { id: a.id, title: a.title, text: `${c.change.action}: ${a.title}` }
  if (a.level !== undefined) fields.level = a.level
  if (a.value !== undefined) fields.value = a.value
  if (a.threshold !== undefined) fields.threshold = a.threshold
  return { measurement: 'alerts', ts: c.change.event_ts ? Date.parse(c.change.event_ts) : Date.parse(c.change.at), tags, fields }
}
