// Silence tracking: a device that has not been heard from for longer than a silence rule's
// expected interval opens a `silence` alert; hearing from it again (a reading, a detection or an
// online status) resolves that alert. About the link, so it runs on arrival (wall-clock) time.
import { newId, splitKey, type AlertingState, type SilenceState, type Tracked } from './alerting-state.ts'
import { emitAfterCommit, record } from './fan-out.ts'
import type { AlertChange, Severity } from './types.ts'

/** Loads every silence rule's state for its devices (at start and when the rules are replaced). */
export function loadSilence(ctx: AlertingState): void {
  ctx.silence.clear()
  ctx.trackedByDevice.clear()
  for (const r of ctx.silenceRules)
    for (const s of ctx.store.ruleStates(r.id)) ctx.silence.set(ctx.keys.of(r.id, s.subject), s.state as SilenceState)
}

// The silence rules that track each device, with their state: worked out on the device's first
// reading (its kind does not change) so that a reading touches only those. A rule tracks a device
// when its filters take the device or when it already holds state for it (a rule whose filters
// changed must still hear from the devices it watched). A status carries no kind: it finds only
// the rules already holding state, and what it finds is not kept. Cleared when rules or states
// reload; bounded by the fleet, cleared past 100k devices (trackedByDevice, in the shared state).
export function trackedOf(
  ctx: AlertingState,
  device: string,
  kind: string | undefined,
  station: string | null | undefined,
  district: string | null | undefined,
  t: number,
): Tracked[] {
  let list = ctx.trackedByDevice.get(device)
  if (list) return list
  list = []
  const subject = ctx.keys.device(device)
  for (const rule of ctx.silenceRules) {
    const key = ctx.keys.of(rule.id, subject)
    let st = ctx.silence.get(key)
    if (!st) {
      if (kind === undefined) continue
      if (rule.device_kinds && rule.device_kinds.length > 0 && !rule.device_kinds.includes(kind as never)) continue
      if (rule.devices && rule.devices.length > 0 && !rule.devices.includes(device) && !rule.devices.includes('*')) continue
      st = { lastSeen: t, kind, station: station ?? undefined, district: district ?? undefined, alertId: null }
      ctx.silence.set(key, st)
    }
    list.push({ rule, key, st })
  }
  if (kind === undefined) return list
  if (ctx.trackedByDevice.size > 100_000) ctx.trackedByDevice.clear()
  ctx.trackedByDevice.set(device, list)
  return list
}
// Silence: about the link, so it runs on arrival (wall-clock) time, not event time.
export function seen(
  ctx: AlertingState,
  device: string,
  kind: string | undefined,
  station: string | null | undefined,
  district: string | null | undefined,
): void {
  if (ctx.silenceRules.length === 0) return
  const t = ctx.now()
  let changes: AlertChange[] | undefined
  for (const { rule, key, st } of trackedOf(ctx, device, kind, station, district, t)) {
    st.lastSeen = t
    ctx.dirty.add(key)
    if (st.alertId) {
      const alertId = st.alertId
      const c = ctx.store.transaction(() => {
        const a = ctx.store.get(alertId)
        st.alertId = null
        ctx.store.saveRuleState(rule.id, `device:${device}`, st)
        if (!a || a.state === 'resolved') return undefined
        const at = new Date(ctx.now()).toISOString()
        ctx.store.update(alertId, { updated_at: at, state: 'resolved', level: 0, resolved: { by: 'system', at } })
        return record(ctx, alertId, { at, action: 'resolved', severity: a.severity, level: 0, state: 'resolved', by: 'system' })
      })
      if (c) (changes ??= []).push(c)
    }
  }
  if (changes) emitAfterCommit(ctx, changes)
}

/** Opens a silence alert for every tracked device not heard from within its rule's expected interval. */
export function checkSilence(ctx: AlertingState): void {
  const changes: AlertChange[] = []
  const t = ctx.now()
  for (const rule of ctx.silenceRules) {
    const expected = rule.expected_interval_s * 1000
    for (const [key, st] of ctx.silence) {
      const [ruleId, subject] = splitKey(key)
      if (ruleId !== rule.id || st.alertId || t - st.lastSeen <= expected) continue
      const device = subject.slice('device:'.length)
      const severity: Severity = rule.severity ?? 'minor'
      const silentS = Math.round((t - st.lastSeen) / 1000)
      const c = ctx.store.transaction(() => {
        const at = new Date(t).toISOString()
        const id = newId()
        const active = ctx.store.active(rule.id, subject)
        if (active) {
          st.alertId = active.id
          return undefined
        }
        ctx.store.insert({
          id,
          rule: rule.id,
          kind: 'silence',
          subject,
          device,
          station: st.station,
          district: st.district,
          severity,
          level: 1,
          value: silentS,
          threshold: rule.expected_interval_s,
          unit: 's',
          title: `Thiết bị ${device} mất tín hiệu ${Math.round(silentS / 60)} phút`,
          late: false,
          at,
          attentionSince: t,
        })
        st.alertId = id
        ctx.store.saveRuleState(rule.id, subject, st)
        return record(ctx, id, { at, action: 'opened', severity, level: 1, value: silentS, state: 'open', by: 'system' })
      })
      if (c) changes.push(c)
    }
  }
  if (changes.length > 0) emitAfterCommit(ctx, changes)
}
