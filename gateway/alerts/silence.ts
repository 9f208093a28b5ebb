// Silence tracking: a device that has not been heard from for longer than a silence rule's
// expected interval opens a `silence` alert; hearing from it again (a reading, a detection or an
// online status) resolves that alert. About the link, so it runs on arrival (wall-clock) time.
// A device's silence work runs in the order of its subject `device:{id}` (ordering.ts).
import type { Reading } from '../bus/events.ts'
import { newId, splitKey, type AlertingState, type SilenceState, type Tracked } from './alerting-state.ts'
import { emitAfterCommit, record } from './fan-out.ts'
import type { Silence } from './rules.ts'
import type { Fence } from './store.ts'
import type { AlertChange, Severity } from './types.ts'

/**
 * Loads every silence rule's state for its devices (at start and when the rules are replaced).
 * `apply` runs just before the loaded states replace the old, in the same turn: a rule swap
 * (engine.ts replaceRules) and its states then take effect together.
 */
export async function loadSilence(ctx: AlertingState, rules: Silence[] = ctx.silenceRules, apply?: () => void): Promise<void> {
  const loaded: Array<[string, SilenceState]> = []
  for (const r of rules)
    for (const s of await ctx.store.ruleStates(r.id)) loaded.push([ctx.keys.of(r.id, s.subject), s.state as SilenceState])
  apply?.()
  ctx.silenceRules = rules
  ctx.silence.clear()
  ctx.trackedByDevice.clear()
  for (const [k, st] of loaded) ctx.silence.set(k, st)
}

/**
 * How long a node may keep a device's news (`seen`) from the owner of its partition after sending
 * one (partitions.ts): a tenth of the shortest interval the silence rules expect, at most a
 * second, so a device is never found silent for it; nothing when no rule watches silence.
 */
export function seenWindowMs(rules: readonly Silence[]): number {
  let ms = 1_000
  for (const r of rules) ms = Math.min(ms, r.expected_interval_s * 100)
  return rules.length === 0 ? 0 : ms
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
/**
 * Takes over what the store holds for a device when it is newer: with a shared store another node
 * may have heard from the device since (its lastSeen, flushed every flushMs) or opened its alert.
 */
async function adoptStored(ctx: AlertingState, ruleId: string, subject: string, st: SilenceState): Promise<void> {
  const stored = (await ctx.store.loadRuleState(ruleId, subject)) as SilenceState | undefined
  if (!stored) return
  if (stored.lastSeen > st.lastSeen) {
    st.lastSeen = stored.lastSeen
    st.alertId = stored.alertId ?? null
  } else if (!st.alertId && stored.alertId) st.alertId = stored.alertId
}

// Silence: about the link, so it runs on arrival (wall-clock) time, not event time. `fence`:
// cluster mode with alert partitions, the lease of the device's partition (partitions.ts).
export function seen(
  ctx: AlertingState,
  device: string,
  kind: string | undefined,
  station: string | null | undefined,
  district: string | null | undefined,
  fence?: Fence,
): Promise<void> | undefined {
  if (ctx.silenceRules.length === 0) return undefined
  const t = ctx.now()
  // A device new to this node may have moved from another one, which may have opened its alert.
  const fresh = ctx.store.backend === 'postgres' && !ctx.trackedByDevice.has(device)
  const tracked = trackedOf(ctx, device, kind, station, district, t)
  // Nearly always: a device already known here, without a silence alert open. Nothing to read or
  // write now (flush writes the states), so nothing waits for the store (ordering.ts `post`).
  if (!fresh && !anyAlertOpen(tracked)) {
    for (const x of tracked) {
      x.st.lastSeen = t
      ctx.dirty.add(x.key)
    }
    return undefined
  }
  return seenStored(ctx, device, tracked, fresh, t, fence)
}

/** A loop rather than `some(…)`: this runs for every reading, and the callback is an object each time. */
function anyAlertOpen(tracked: readonly Tracked[]): boolean {
  for (const x of tracked) if (x.st.alertId) return true
  return false
}

/** `seen` for the device of a reading (engine.ts, a step in the device's order). */
export function seenReading(ctx: AlertingState, r: Reading, fence?: Fence): Promise<void> | undefined {
  return seen(ctx, r.device, r.kind, r.station, r.district, fence)
}

/** `seen` for a device whose silence alert resolves, or new to this node with a shared store. */
async function seenStored(ctx: AlertingState, device: string, tracked: Tracked[], fresh: boolean, t: number, fence?: Fence): Promise<void> {
  let changes: AlertChange[] | undefined
  for (const { rule, key, st } of tracked) {
    if (fresh) await adoptStored(ctx, rule.id, ctx.keys.device(device), st)
    st.lastSeen = t
    ctx.dirty.add(key)
    if (st.alertId) {
      const alertId = st.alertId
      const c = await ctx.store.transaction(async (tx) => {
        const a = await tx.get(alertId)
        st.alertId = null
        await tx.saveRuleStates([{ rule: rule.id, subject: `device:${device}`, state: st }])
        if (!a || a.state === 'resolved') return undefined
        const at = new Date(ctx.now()).toISOString()
        await tx.update(alertId, { updated_at: at, state: 'resolved', level: 0, resolved: { by: 'system', at } })
        return record(ctx, tx, alertId, { at, action: 'resolved', severity: a.severity, level: 0, state: 'resolved', by: 'system' })
      }, fence && { fence })
      if (c) (changes ??= []).push(c)
    }
  }
  if (changes) await emitAfterCommit(ctx, changes)
}

/**
 * Opens a silence alert for every tracked device not heard from within its rule's expected
 * interval. Each in the device's order: a reading queued before it has been counted.
 */
export async function checkSilence(ctx: AlertingState): Promise<void> {
  const t = ctx.now()
  const work: Array<Promise<AlertChange | undefined>> = []
  for (const rule of ctx.silenceRules) {
    const expected = rule.expected_interval_s * 1000
    for (const [key, st] of ctx.silence) {
      const [ruleId, subject] = splitKey(key)
      if (ruleId !== rule.id || st.alertId || t - st.lastSeen <= expected) continue
      // With alert partitions only the owner of the device's partition watches it.
      const fence = ctx.owned ? ctx.owned.fenceOf(subject) : undefined
      if (fence === null) continue
      work.push(
        ctx.queue.run(subject, async () => {
          // Heard from meanwhile, here or (shared store) on another node: not silent.
          await adoptStored(ctx, rule.id, subject, st)
          if (st.alertId || t - st.lastSeen <= expected || ctx.silence.get(key) !== st) return undefined
          return openSilence(ctx, rule, subject, st, t, fence)
        }),
      )
    }
  }
  const changes = (await Promise.all(work)).filter((c): c is AlertChange => c !== undefined)
  if (changes.length > 0) await emitAfterCommit(ctx, changes)
}

async function openSilence(
  ctx: AlertingState,
  rule: Tracked['rule'],
  subject: string,
  st: SilenceState,
  t: number,
  fence: Fence | undefined,
): Promise<AlertChange | undefined> {
  const device = subject.slice('device:'.length)
  const severity: Severity = rule.severity ?? 'minor'
  const silentS = Math.round((t - st.lastSeen) / 1000)
  return ctx.store.transaction(async (tx) => {
    const at = new Date(t).toISOString()
    const id = newId()
    const active = await tx.active(rule.id, subject)
    if (active) {
      st.alertId = active.id
      return undefined
    }
    const opened = await tx.insert({
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
    // Opened meanwhile by another node: that alert stands for this device.
    st.alertId = opened ? id : ((await tx.active(rule.id, subject))?.id ?? null)
    await tx.saveRuleStates([{ rule: rule.id, subject, state: st }])
    if (!opened) return undefined
    return record(ctx, tx, id, { at, action: 'opened', severity, level: 1, value: silentS, state: 'open', by: 'system' })
  }, fence && { fence })
}

/**
 * After taking an alert partition (partitions.ts): the stored silence states of its devices, so
 * that a device silent since its previous owner died is still found silent here.
 */
export async function adoptSilence(ctx: AlertingState, belongs: (subject: string) => boolean): Promise<void> {
  for (const rule of ctx.silenceRules)
    for (const s of await ctx.store.ruleStates(rule.id)) {
      if (!belongs(s.subject)) continue
      const key = ctx.keys.of(rule.id, s.subject)
      if (!ctx.silence.has(key)) ctx.silence.set(key, s.state as SilenceState)
    }
}
