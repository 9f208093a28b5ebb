// Fan-out of alert changes: each change is recorded in the alert's history and handed to the
// router (the notifier's outbox) inside the transaction that makes it, then, once committed,
// published on MQTT (docs/mqtt.md "alerts/{kind}/{station}"), written as an annotation point and
// told to the listeners (SSE). A failing target is counted and logged; it never undoes the change.
import { randomBytes } from 'node:crypto'
import type { AlertingState } from './alerting-state.ts'
import type { AlertPoint, SystemAlert } from './engine.ts'
import { partitionOf } from './ordering.ts'
import type { AlertTx } from './store.ts'
import { AlertError } from './errors.ts'
import type { Alert, AlertChange, AlertHistoryEntry, ChangeEntry } from './types.ts'

/** Inside a transaction: appends a history entry and hands the change to the router. */
export async function record(ctx: AlertingState, tx: AlertTx, alertId: string, entry: Omit<ChangeEntry, 'seq'>): Promise<AlertChange> {
  const seq = await tx.nextSeq(alertId)
  const full: ChangeEntry = { seq, ...entry }
  await tx.appendHistory(alertId, full)
  const alert = await tx.get(alertId)
  if (!alert) throw new AlertError('not_found', `alert ${alertId} not found`)
  const change = { alert, change: full }
  const router = ctx.router
  if (router) {
    // The router writes through the transaction (outbox rows, webhook deliveries); the notes it
    // makes (notification_undeliverable) follow the change in its history, in this transaction.
    const notes: Array<Omit<AlertHistoryEntry, 'seq'>> = []
    await router.routeInTx(change, (e) => notes.push(e), tx)
    for (const [i, e] of notes.entries()) await tx.appendHistory(alertId, { ...e, seq: seq + 1 + i })
  }
  return change
}

/** After the transaction committed: publish, annotate and tell the listeners; then let the router send. */
export async function emitAfterCommit(ctx: AlertingState, changes: AlertChange[]): Promise<void> {
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
  if (changes.length > 0) ctx.router?.kick()
  try {
    ctx.m.open.set(await ctx.store.countOpen())
  } catch (err) {
    ctx.log.warn({ err }, 'open alerts not counted')
  }
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

/** An alert the gateway raises about itself (engine.ts `raiseSystemAlert`): opened unless one is active, then emitted. */
export function raiseSystemAlert(ctx: AlertingState, s: SystemAlert): Promise<Alert | undefined> {
  return ctx.queue.run(partitionOf(s.subject), () => raiseInOrder(ctx, s))
}

async function raiseInOrder(ctx: AlertingState, s: SystemAlert): Promise<Alert | undefined> {
  const now = ctx.now()
  const at = new Date(now).toISOString()
  const change = await ctx.store.transaction(async (tx) => {
    if (await tx.active(s.rule, s.subject)) return undefined
    const id = `a${randomBytes(8).toString('hex')}`
    const opened = await tx.insert({
      id,
      rule: s.rule,
      kind: s.kind,
      subject: s.subject,
      severity: s.severity,
      title: s.title,
      late: false,
      at,
      attentionSince: now,
    })
    // Opened meanwhile elsewhere (another node): that one stands.
    if (!opened) return undefined
    const entry: ChangeEntry = {
      seq: await tx.nextSeq(id),
      at,
      action: 'opened',
      severity: s.severity,
      state: 'open',
      by: 'system',
      note: s.note,
    }
    await tx.appendHistory(id, entry)
    const alert = await tx.get(id)
    if (!alert) throw new AlertError('not_found', `alert ${id} not found`)
    return { alert, change: entry }
  })
  if (change) await emitAfterCommit(ctx, [change])
  return change?.alert
}
