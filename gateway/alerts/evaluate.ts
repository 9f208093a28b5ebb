// Evaluation of the level conditions (conditions.ts) against each input: the condition's level
// for its subject, stepped with hysteresis and minimum durations (levels.ts), and the alert it
// opens, raises, lowers or resolves, in one transaction with its rule state. An input runs in its
// subject's order (ordering.ts, inputPartition), so its rule states are not touched meanwhile.
import { levelState, newId, type AlertingState, type Slot } from './alerting-state.ts'
import { stationSubject, type Condition, type Evaluation, type Input } from './conditions.ts'
import { FencedError } from './errors.ts'
import { emitAfterCommit, record } from './fan-out.ts'
import { newLevelState, stepLevel, targetLevel, type LevelState } from './levels.ts'
import type { Fence } from './store.ts'
import type { AlertChange, ChangeAction, Severity } from './types.ts'

/**
 * The ordering key of an input: the subject the reading conditions give it (a station, or the
 * device when it has none, as conditions.ts `stationSubject`), the camera for a detection (its
 * zones' subjects `device:{camera}:{zone}` share it, ordering.ts partitionOf).
 */
export function inputPartition(input: Input): string {
  if (input.type === 'detection') return `device:${input.detection.camera}`
  // The cached subject's key: one string per station, its hash kept, for every reading.
  return stationSubject(input.reading).key
}

/** Made again with the conditions (slots and the condition's view of its state). */
export function resetSlots(ctx: AlertingState): void {
  ctx.slots = ctx.conditions.map(() => new Map<string, Slot>())
  ctx.dataOf = ctx.conditions.map((c, ci) => (subjectKey: string) => cachedSlot(ctx, ci, c.rule.id, subjectKey).st)
}

/**
 * The slot the condition's `data()` reads, synchronously: handle() loads the input's own
 * subject before evaluating. A condition asking for another subject gets the cached state, else
 * a fresh one (its persisted state is then not read).
 */
function cachedSlot(ctx: AlertingState, ci: number, rule: string, subjectKey: string): Slot {
  const bySubject = ctx.slots[ci]!
  let slot = bySubject.get(subjectKey)
  if (slot === undefined) {
    const key = ctx.keys.of(rule, subjectKey)
    let st = ctx.states.get(key)
    if (!st) ctx.states.set(key, (st = newLevelState()))
    slot = { key, st }
    bySubject.set(subjectKey, slot)
  }
  return slot
}

export async function slotOf(ctx: AlertingState, ci: number, rule: string, subjectKey: string): Promise<Slot> {
  const bySubject = ctx.slots[ci]!
  let slot = bySubject.get(subjectKey)
  if (slot === undefined) {
    const key = ctx.keys.of(rule, subjectKey)
    const st = await levelState(ctx, rule, subjectKey, key)
    // The conditions may have been replaced while the state loaded: the slot goes with the new set.
    slot = { key, st }
    ctx.slots[ci]?.set(subjectKey, slot)
  }
  return slot
}

/**
 * One input (a reading or a detection) through every condition that consumes it. `fence`: cluster
 * mode, the lease of the input's alert partition it was accepted under (partitions.ts); every
 * write checks it, and a FencedError (the partition taken over) ends the input and is thrown.
 *
 * Runs synchronously while no condition needs the store (a state to load, an alert to change)
 * and then answers undefined: nearly every reading. Otherwise it answers a promise of the rest,
 * carried on from where it stopped. A promise per reading, with the queue's own, was a third of
 * what a reading's evaluation cost.
 */
export function handle(ctx: AlertingState, input: Input, fence?: Fence): Promise<void> | undefined {
  return conditionsFrom(ctx, ctx.conditions, input, fence, 0, undefined)
}

/**
 * The conditions of `conditions` from index `from` on (handle). The loop captures nothing: a
 * closure over its variables made V8 allocate their scopes on every pass, for every reading, and
 * those were the largest share of the bytes the gateway allocated at full ingest. What goes on
 * after a store read is made by loadedOwn and loadedSubject, only when it is needed.
 */
function conditionsFrom(
  ctx: AlertingState,
  conditions: Condition[],
  input: Input,
  fence: Fence | undefined,
  from: number,
  changes: AlertChange[] | undefined,
): Promise<void> | undefined {
  // Rules replaced while a state loaded: the input is evaluated no further.
  if (ctx.conditions !== conditions) return undefined
  const own = input.type === 'reading' ? inputPartition(input) : undefined
  for (let ci = from; ci < conditions.length; ci++) {
    const cond = conditions[ci]!
    const wants = cond.consumes
    if (
      wants.type !== input.type ||
      (wants.type === 'reading' && input.type === 'reading' && input.reading.values[wants.metric] === undefined)
    )
      continue
    // The reading's own subject loaded first, so that the condition's data() finds its stored
    // state; then this condition from its start (nothing of it has run).
    if (own !== undefined && !ctx.slots[ci]!.has(own)) return loadedOwn(ctx, conditions, input, fence, ci, changes, own)
    const ev = cond.evaluate(input, ctx.dataOf[ci]!)
    if (ev === undefined) continue
    const slot = ctx.slots[ci]!.get(ev.subject.key)
    if (slot === undefined) return loadedSubject(ctx, conditions, input, fence, ci, changes, ev)
    const pending = levelStep(ctx, cond, ev, slot, input, fence)
    if (pending) return settled(ctx, conditions, input, fence, ci, changes, ev, pending)
  }
  return changes && emitAfterCommit(ctx, changes)
}

/** The input's own subject's state loaded, then condition `ci` from its start. */
async function loadedOwn(
  ctx: AlertingState,
  conditions: Condition[],
  input: Input,
  fence: Fence | undefined,
  ci: number,
  changes: AlertChange[] | undefined,
  own: string,
): Promise<void> {
  await slotOf(ctx, ci, conditions[ci]!.rule.id, own)
  await conditionsFrom(ctx, conditions, input, fence, ci, changes)
}

/** The state of the subject `ev` names (another than the input's own) loaded, then `ev` applied and the conditions after `ci`. */
async function loadedSubject(
  ctx: AlertingState,
  conditions: Condition[],
  input: Input,
  fence: Fence | undefined,
  ci: number,
  changes: AlertChange[] | undefined,
  ev: Evaluation,
): Promise<void> {
  const cond = conditions[ci]!
  const slot = await slotOf(ctx, ci, cond.rule.id, ev.subject.key)
  const pending = levelStep(ctx, cond, ev, slot, input, fence)
  await (pending
    ? settled(ctx, conditions, input, fence, ci, changes, ev, pending)
    : conditionsFrom(ctx, conditions, input, fence, ci + 1, changes))
}

/**
 * The level `ev` gives its subject's state, stepped. Undefined when no alert changes (the state
 * is written by the next flush), else the alert change being stored.
 */
function levelStep(
  ctx: AlertingState,
  cond: Condition,
  ev: Evaluation,
  { key, st }: Slot,
  input: Input,
  fence: Fence | undefined,
): Promise<AlertChange | undefined> | undefined {
  if (ev.ts < st.lastTs) {
    // Out of order for this subject: durations run forward in event time only.
    ctx.m.outOfOrder.inc()
    ctx.dirty.add(key)
    return undefined
  }
  const prev = st.level
  const target = targetLevel(ev.value, ev.thresholds, ev.hysteresis, st.level)
  const applied = stepLevel(st, target, ev.ts, ev.minDurationMs)
  if (applied === undefined) {
    ctx.dirty.add(key)
    return undefined
  }
  const late =
    input.type === 'reading'
      ? input.reading.late || ctx.now() - input.reading.ts > ctx.lateAfterMs
      : ctx.now() - input.detection.ts > ctx.lateAfterMs
  return applyLevel(ctx, cond, ev, st, prev, applied, late, fence)
}

/** An alert change stored (or refused), then the conditions after `ci`. */
async function settled(
  ctx: AlertingState,
  conditions: Condition[],
  input: Input,
  fence: Fence | undefined,
  ci: number,
  changes: AlertChange[] | undefined,
  ev: Evaluation,
  pending: Promise<AlertChange | undefined>,
): Promise<void> {
  try {
    const c = await pending
    if (c) (changes ??= []).push(c)
  } catch (err) {
    if (err instanceof FencedError) {
      // What earlier conditions committed under the lease still goes out.
      if (changes) await emitAfterCommit(ctx, changes)
      throw err
    }
    ctx.log.error({ err, rule: conditions[ci]!.rule.id, subject: ev.subject.key }, 'alert change failed')
  }
  await conditionsFrom(ctx, conditions, input, fence, ci + 1, changes)
}

export async function applyLevel(
  ctx: AlertingState,
  cond: Condition,
  ev: Evaluation,
  st: LevelState,
  prev: number,
  level: number,
  late: boolean,
  fence?: Fence,
): Promise<AlertChange | undefined> {
  const rule = cond.rule
  const at = new Date(ctx.now()).toISOString()
  const eventTs = new Date(ev.ts).toISOString()
  const severity: Severity = ev.severities[level - 1] ?? ev.severities[ev.severities.length - 1] ?? 'minor'
  const threshold = ev.thresholds[level - 1] ?? undefined
  return ctx.store.transaction(async (tx) => {
    const active = st.alertId ? await tx.get(st.alertId) : await tx.active(rule.id, ev.subject.key)
    let change: AlertChange | undefined
    if (level > 0 && (!active || active.state === 'resolved') && level <= prev) {
      // Resolved by an officer while the condition held: lowering does not reopen it.
      st.alertId = null
    } else if (level > 0) {
      const title = cond.title(ev.subject, level, ev.value)
      if (!active || active.state === 'resolved') {
        const id = newId()
        const opened = await tx.insert({
          id,
          rule: rule.id,
          kind: cond.kind,
          subject: ev.subject.key,
          station: ev.subject.station,
          device: ev.subject.device,
          zone: ev.subject.zone,
          district: ev.subject.district,
          severity,
          level,
          value: ev.value,
          threshold: threshold ?? undefined,
          unit: ev.unit || undefined,
          title,
          late,
          at,
          attentionSince: ctx.now(),
        })
        if (!opened) {
          // Opened meanwhile by another node (shared store): that alert is the one this state drives.
          st.alertId = (await tx.active(rule.id, ev.subject.key))?.id ?? null
          await tx.saveRuleStates([{ rule: rule.id, subject: ev.subject.key, state: st }])
          return undefined
        }
        st.alertId = id
        change = await record(ctx, tx, id, {
          at,
          event_ts: eventTs,
          action: 'opened',
          severity,
          level,
          value: ev.value,
          state: 'open',
          by: 'system',
          late,
        })
      } else if (level === active.level) {
        // Already at this level: another node (shared store) applied the same input first. That
        // alert is the one this state drives; there is no change to record.
        st.alertId = active.id
        await tx.saveRuleStates([{ rule: rule.id, subject: ev.subject.key, state: st }])
        return undefined
      } else {
        const action: ChangeAction = level > (active.level ?? 0) ? 'raised' : 'lowered'
        // A raise needs a new acknowledgement: the officer acknowledged a smaller danger.
        const state = action === 'raised' ? 'open' : active.state
        await tx.update(active.id, {
          updated_at: at,
          severity,
          level,
          value: ev.value,
          threshold: threshold ?? undefined,
          title,
          state,
          late,
          ...(action === 'raised' ? { attentionSince: ctx.now(), acknowledged: null } : {}),
        })
        change = await record(ctx, tx, active.id, {
          at,
          event_ts: eventTs,
          action,
          severity,
          level,
          value: ev.value,
          state,
          by: 'system',
          late,
        })
      }
    } else if (active && active.state !== 'resolved') {
      await tx.update(active.id, { updated_at: at, state: 'resolved', value: ev.value, late, resolved: { by: 'system', at } })
      st.alertId = null
      change = await record(ctx, tx, active.id, {
        at,
        event_ts: eventTs,
        action: 'resolved',
        severity: active.severity,
        level: 0,
        value: ev.value,
        state: 'resolved',
        by: 'system',
        late,
      })
    } else {
      st.alertId = null
    }
    await tx.saveRuleStates([{ rule: rule.id, subject: ev.subject.key, state: st }])
    return change
  }, fence && { fence })
}
