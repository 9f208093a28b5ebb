// The state the alert engine's steps share (engine.ts wires them): the store, the rules as
// compiled, the rule-state caches and the metrics. Each step is a module-level function taking
// this object: evaluate.ts (conditions), silence.ts, fan-out.ts, human.ts and escalation.ts.
import { randomBytes } from 'node:crypto'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { Condition } from './conditions.ts'
import type { SharedDb } from './db.ts'
import { newLevelState, type LevelState } from './levels.ts'
import type { RulesDoc, Silence } from './rules.ts'
import type { KeyedQueue } from './ordering.ts'
import type { AlertStore, Fence, RuleStateRow } from './store.ts'
import type { AlertChange } from './types.ts'
import type { AlertingOptions, ChangeRouter } from './engine.ts'

export interface SilenceState {
  lastSeen: number
  kind?: string | undefined
  station?: string | undefined
  district?: string | undefined
  alertId?: string | null
}
/** A silence rule tracking a device, with its state for the device (see trackedOf). */
export interface Tracked {
  rule: Silence
  key: string
  st: SilenceState
}
/** The state of one (condition, subject), with its key (see slotOf). */
export interface Slot {
  key: string
  st: LevelState & { data?: unknown }
}

export type AlertingMetrics = ReturnType<typeof alertingMetrics>

export function alertingMetrics(metrics: Metrics) {
  const evaluated = metrics.counter('alert_inputs_total', 'Inputs evaluated by the alert engine', ['type'])
  return {
    changes: metrics.counter('alert_changes_total', 'Alert changes by kind and action', ['kind', 'action']),
    open: metrics.gauge('alerts_open', 'Alerts not yet resolved'),
    evaluated,
    // Per reading: summed locally, handed to prom-client when read.
    readingsEvaluated: metrics.hotCounter(evaluated, { type: 'reading' }),
    // Hot: readings of several gauges of one station interleave, so many arrive behind the newest.
    outOfOrder: metrics.hotCounter(
      metrics.counter('alert_inputs_out_of_order_total', 'Inputs older than the rule state, ignored for durations'),
    ),
    ruleRejects: metrics.counter('rule_rejects_total', 'Rule documents refused (PUT /api/v1/rules)'),
    publishFailed: metrics.counter('alert_publish_failures_total', 'Alert changes that could not be published', ['target']),
  }
}

export interface AlertingState {
  readonly opts: AlertingOptions
  readonly now: () => number
  readonly lateAfterMs: number
  readonly db: SharedDb['db']
  readonly store: AlertStore
  /** Each subject's work in arrival order (ordering.ts). */
  readonly queue: KeyedQueue
  readonly log: Logger
  readonly m: AlertingMetrics
  router: ChangeRouter | undefined
  doc: RulesDoc
  conditions: Condition[]
  silenceRules: Silence[]
  readonly listeners: Set<(c: AlertChange) => void>
  // Rule state cache; every entry is also in the store (written with alert changes, and by flush()).
  readonly states: Map<string, LevelState & { data?: unknown }>
  readonly silence: Map<string, SilenceState>
  readonly trackedByDevice: Map<string, Tracked[]>
  readonly dirty: Set<string>
  readonly keys: StateKeys
  // The state of each (condition, subject), found with one lookup per evaluation rather than
  // three (state key, then state): per condition, subject key → its state key and state. Made
  // again with the conditions; holds the same objects as `states`.
  slots: Array<Map<string, Slot>>
  dataOf: Array<(subjectKey: string) => { data?: unknown }>
  /**
   * Cluster mode with alert partitions (partitions.ts): the lease under which a subject's level
   * state is written, null when another node owns the subject. Unset: this node owns every subject.
   */
  owned?: { fenceOf(subject: string): Fence | null } | undefined
}

/**
 * State keys are looked up several times for every reading; one string per (rule, subject),
 * made once, spares a concatenation (and its hashing) per lookup. Subjects are registered
 * devices, stations and camera zones, so the cache is bounded by the fleet; cleared past 100k.
 */
export class StateKeys {
  private readonly keyCache = new Map<string, Map<string, string>>()
  private cachedKeys = 0
  private readonly deviceSubjects = new Map<string, string>()

  of(rule: string, subject: string): string {
    let byRule = this.keyCache.get(rule)
    if (!byRule) this.keyCache.set(rule, (byRule = new Map<string, string>()))
    let key = byRule.get(subject)
    if (key === undefined) {
      if (++this.cachedKeys > 100_000) {
        this.keyCache.clear()
        this.cachedKeys = 1
        this.keyCache.set(rule, (byRule = new Map<string, string>()))
      }
      key = `${rule}\u0000${subject}`
      byRule.set(subject, key)
    }
    return key
  }

  device(device: string): string {
    let s = this.deviceSubjects.get(device)
    if (s === undefined) {
      if (this.deviceSubjects.size > 100_000) this.deviceSubjects.clear()
      this.deviceSubjects.set(device, (s = `device:${device}`))
    }
    return s
  }
}

export const newId = () => `a${randomBytes(8).toString('hex')}`

export const splitKey = (key: string) => key.split('\u0000') as [string, string]

/** The cached state of (rule, subject), loaded from the store on first use. Run in the subject's order (ordering.ts). */
export async function levelState(ctx: AlertingState, rule: string, subject: string, key: string): Promise<LevelState & { data?: unknown }> {
  let st = ctx.states.get(key)
  if (!st) {
    const loaded = (await ctx.store.loadRuleState(rule, subject)) as (LevelState & { data?: unknown }) | undefined
    // Another task of the same key cannot have loaded it meanwhile (one task per subject at a time).
    st = ctx.states.get(key) ?? loaded ?? newLevelState()
    ctx.states.set(key, st)
  }
  return st
}

/** The cached states of `keys` as they are now (one dropped from the cache meanwhile is left out). */
function cachedStates(ctx: AlertingState, keys: readonly string[]): RuleStateRow[] {
  const states: RuleStateRow[] = []
  for (const key of keys) {
    const [rule, subject] = splitKey(key)
    const st = ctx.states.get(key) ?? ctx.silence.get(key)
    if (st) states.push({ rule, subject, state: st })
  }
  return states
}

/**
 * Writes the dirty rule states (between alert changes, which write theirs at once), in one
 * transaction. With alert partitions a level state is written under its partition's lease, and
 * only by its owner: a partition taken over meanwhile is left out (its new owner has the state).
 */
export async function flush(ctx: AlertingState): Promise<void> {
  if (ctx.dirty.size === 0) return
  const keys = [...ctx.dirty]
  ctx.dirty.clear()
  const groups = new Map<string, { fence: Fence | undefined; keys: string[] }>()
  for (const key of keys) {
    const fence = ctx.owned && (ctx.states.has(key) || ctx.silence.has(key)) ? ctx.owned.fenceOf(splitKey(key)[1]) : undefined
    // Given up meanwhile: its new owner has the state (forgetSubjects dropped the cache).
    if (fence === null) continue
    const g = fence?.name ?? ''
    let group = groups.get(g)
    if (!group) groups.set(g, (group = { fence, keys: [] }))
    group.keys.push(key)
  }
  try {
    // The cached objects are the newest states: serialised when the statement is sent.
    await ctx.store.flushRuleStates([...groups.values()].map((g) => ({ fence: g.fence, states: cachedStates(ctx, g.keys) })))
  } catch (err) {
    // Not written: tried again on the next flush.
    for (const g of groups.values()) for (const k of g.keys) ctx.dirty.add(k)
    throw err
  }
}

/**
 * Drops the cached rule states of the subjects `belongs` takes (an alert partition taken over or
 * given up, partitions.ts): their next input reads what the store holds.
 */
export function forgetSubjects(ctx: AlertingState, belongs: (subject: string) => boolean): void {
  for (const cache of [ctx.states, ctx.silence])
    for (const key of [...cache.keys()]) {
      if (!belongs(splitKey(key)[1])) continue
      cache.delete(key)
      ctx.dirty.delete(key)
    }
  for (const device of [...ctx.trackedByDevice.keys()]) if (belongs(ctx.keys.device(device))) ctx.trackedByDevice.delete(device)
  for (const bySubject of ctx.slots) for (const subject of [...bySubject.keys()]) if (belongs(subject)) bySubject.delete(subject)
}
