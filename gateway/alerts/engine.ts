import { randomBytes } from 'node:crypto'
import type { DetectionEvent, DeviceStatusEvent, GatewayBus, Reading } from '../bus/events.ts'
import type { Stations } from '../domain/stations.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import { compileConditions, type Condition, type Evaluation, type Input } from './conditions.ts'
import { openAlertsDb, type SharedDb } from './db.ts'
import { newLevelState, stepLevel, targetLevel, type LevelState } from './levels.ts'
import { loadRules, parseRules, saveRules, type Rule, type RulesDoc, type Silence } from './rules.ts'
import { sqliteAlertStore, type AlertFilter, type AlertStore } from './store.ts'
import type { Alert, AlertChange, AlertKind, ChangeAction, ChangeEntry, Severity, Subject } from './types.ts'

/** Receives every alert change inside the transaction that stores it (the notifier's outbox). */
export interface ChangeRouter {
  routeInTx(change: AlertChange): void
  /** Called after the transaction committed: send what was queued now. */
  kick(): void
}

/** One alert change as a point of the `alerts` measurement (docs/data-model.md), for Grafana annotations. */
export interface AlertPoint {
  measurement: 'alerts'
  ts: number
  tags: Record<string, string>
  fields: Record<string, string | number>
}

export type PublishFn = (topic: string, payload: string | Buffer, opts: { qos: 0 | 1; retain: boolean }) => unknown

export interface AlertingOptions {
  bus?: GatewayBus | undefined
  dataDir: string
  logger: Logger
  metrics: Metrics
  stations: Stations
  /** Broker publish (gateway/broker `createBroker(...).publish`). */
  publish?: PublishFn | undefined
  /** Writes alert points to the time-series store; failures are logged and counted, never block. */
  annotate?: ((point: AlertPoint) => Promise<void> | void) | undefined
  /** A rules document; default <dataDir>/rules.yaml, else `rulesFile` (config/rules.yaml). */
  rules?: RulesDoc | undefined
  rulesFile?: string | undefined
  router?: ChangeRouter | undefined
  /** A reading whose event time is older than this when it arrives marks its alert change late. */
  lateAfterMs?: number | undefined
  silenceCheckMs?: number | undefined
  /** How often dirty rule state is written (between alert changes, which write it at once). */
  flushMs?: number | undefined
  now?: (() => number) | undefined
}

export class AlertError extends Error {
  constructor(readonly code: 'not_found' | 'conflict', message: string) {
    super(message)
    this.name = 'AlertError'
  }
}

export interface Alerting {
  readonly store: AlertStore
  readonly db: SharedDb['db']
  list(filter: AlertFilter, page: { limit: number; cursor?: string | undefined }): { items: Alert[]; next: string | null }
  get(id: string): Alert | undefined
  acknowledge(id: string, by: string, note?: string): Alert
  resolve(id: string, by: string, note?: string): Alert
  rules(): RulesDoc
  /** Validates, stores in <dataDir>/rules.yaml and applies. Throws RuleError naming the field. */
  replaceRules(doc: unknown): RulesDoc
  onChange(listener: (c: AlertChange) => void): () => void
  setRouter(router: ChangeRouter): void
  handleReading(r: Reading): void
  handleDetection(d: DetectionEvent): void
  handleStatus(s: DeviceStatusEvent): void
  checkSilence(): void
  /** Escalation support: marks an alert escalated to `tier` with a history entry, in the caller's transaction. */
  markEscalated(alertId: string, tier: number): AlertChange | undefined
  emitAfterCommit(changes: AlertChange[]): void
  flush(): void
  close(): void
}

interface SilenceState { lastSeen: number; kind?: string | undefined; station?: string | undefined; district?: string | undefined; alertId?: string | null }
/** A silence rule tracking a device, with its state for the device (see trackedOf). */
interface Tracked { rule: Silence; key: string; st: SilenceState }

const newId = () => `a${randomBytes(8).toString('hex')}`

export function createAlerting(opts: AlertingOptions): Alerting {
  const now = opts.now ?? Date.now
  const lateAfterMs = opts.lateAfterMs ?? 120_000
  const shared = openAlertsDb(opts.dataDir)
  const store = sqliteAlertStore(shared.db)
  const log = opts.logger.child({ component: 'alerts' })
  const m = {
    changes: opts.metrics.counter('alert_changes_total', 'Alert changes by kind and action', ['kind', 'action']),
    open: opts.metrics.gauge('alerts_open', 'Alerts not yet resolved'),
    evaluated: opts.metrics.counter('alert_inputs_total', 'Inputs evaluated by the alert engine', ['type']),
    // Hot: readings of several gauges of one station interleave, so many arrive behind the newest.
    outOfOrder: opts.metrics.hotCounter(opts.metrics.counter('alert_inputs_out_of_order_total', 'Inputs older than the rule state, ignored for durations')),
    ruleRejects: opts.metrics.counter('rule_rejects_total', 'Rule documents refused (PUT /api/v1/rules)'),
    publishFailed: opts.metrics.counter('alert_publish_failures_total', 'Alert changes that could not be published', ['target']),
  }
  let router = opts.router
  let doc = opts.rules ? parseRules(opts.rules) : loadRules(opts.dataDir, opts.rulesFile)
  let conditions: Condition[] = compileConditions(doc.rules, opts.stations)
  let silenceRules: Silence[] = doc.rules.filter((r): r is Silence => r.type === 'silence' && r.enabled !== false)
  const listeners = new Set<(c: AlertChange) => void>()

  // Rule state cache; every entry is also in SQLite (written with alert changes, and by flush()).
  const states = new Map<string, LevelState & { data?: unknown }>()
  const silence = new Map<string, SilenceState>()
  const trackedByDevice = new Map<string, Tracked[]>()
  const dirty = new Set<string>()
  // State keys are looked up several times for every reading; one string per (rule, subject),
  // made once, spares a concatenation (and its hashing) per lookup. Subjects are registered
  // devices, stations and camera zones, so the cache is bounded by the fleet; cleared past 100k.
  const keyCache = new Map<string, Map<string, string>>()
  let cachedKeys = 0
  const sk = (rule: string, subject: string): string => {
    let byRule = keyCache.get(rule)
    if (!byRule) keyCache.set(rule, (byRule = new Map()))
    let key = byRule.get(subject)
    if (key === undefined) {
      if (++cachedKeys > 100_000) {
        keyCache.clear()
        cachedKeys = 1
        keyCache.set(rule, (byRule = new Map()))
      }
      key = `${rule}\u0000${subject}`
      byRule.set(subject, key)
    }
    return key
  }
  const deviceSubjects = new Map<string, string>()
  const deviceSubject = (device: string): string => {
    let s = deviceSubjects.get(device)
    if (s === undefined) {
      if (deviceSubjects.size > 100_000) deviceSubjects.clear()
      deviceSubjects.set(device, (s = `device:${device}`))
    }
    return s
  }
  const split = (key: string) => key.split('\u0000') as [string, string]

  const loadSilence = () => {
    silence.clear()
    trackedByDevice.clear()
    for (const r of silenceRules) for (const s of store.ruleStates(r.id)) silence.set(sk(r.id, s.subject), s.state as SilenceState)
  }
  loadSilence()
  m.open.set((shared.db.prepare("SELECT count(*) AS n FROM alerts WHERE state != 'resolved'").get() as { n: number }).n)

  function levelState(rule: string, subject: string, key: string): LevelState & { data?: unknown } {
    let st = states.get(key)
    if (!st) {
      st = (store.loadRuleState(rule, subject) as (LevelState & { data?: unknown }) | undefined) ?? newLevelState()
      states.set(key, st)
    }
    return st
  }

  function flush(): void {
    if (dirty.size === 0) return
    const keys = [...dirty]
    dirty.clear()
    store.transaction(() => {
      for (const key of keys) {
        const [rule, subject] = split(key)
        const st = states.get(key) ?? silence.get(key)
        if (st) store.saveRuleState(rule, subject, st)
      }
    })
  }

  function point(c: AlertChange): AlertPoint {
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

  function emitAfterCommit(changes: AlertChange[]): void {
    for (const c of changes) {
      m.changes.inc({ kind: c.alert.kind, action: c.change.action })
      const topic = `alerts/${c.alert.kind}/${c.alert.station ?? c.alert.device ?? 'unknown'}`
      const { history: _h, ...rest } = c.alert
      const payload = JSON.stringify({ ...rest, change: c.change })
      try {
        const p = opts.publish?.(topic, payload, { qos: 1, retain: false })
        if (p && typeof (p as Promise<void>).catch === 'function') (p as Promise<void>).catch((err: unknown) => { m.publishFailed.inc({ target: 'mqtt' }); log.warn({ err }, 'alert publish failed') })
      } catch (err) {
        m.publishFailed.inc({ target: 'mqtt' })
        log.warn({ err }, 'alert publish failed')
      }
      if (opts.annotate) {
        Promise.resolve()
          .then(() => opts.annotate?.(point(c)))
          .catch((err: unknown) => { m.publishFailed.inc({ target: 'store' }); log.warn({ err }, 'alert annotation write failed') })
      }
      for (const l of listeners) {
        try { l(c) } catch (err) { log.warn({ err }, 'alert listener failed') }
      }
    }
    m.open.set((shared.db.prepare("SELECT count(*) AS n FROM alerts WHERE state != 'resolved'").get() as { n: number }).n)
    if (changes.length > 0) router?.kick()
  }

  /** Inside a transaction: appends a history entry and hands the change to the router. */
  function record(alertId: string, entry: Omit<ChangeEntry, 'seq'>): AlertChange {
    const seq = store.nextSeq(alertId)
    const full: ChangeEntry = { seq, ...entry }
    store.appendHistory(alertId, full)
    const alert = store.get(alertId)
    if (!alert) throw new AlertError('not_found', `alert ${alertId} not found`)
    const change = { alert, change: full }
    router?.routeInTx(change)
    return change
  }

  function applyLevel(cond: Condition, ev: Evaluation, st: LevelState, prev: number, level: number, late: boolean): AlertChange | undefined {
    const rule = cond.rule
    const at = new Date(now()).toISOString()
    const eventTs = new Date(ev.ts).toISOString()
    const severity: Severity = ev.severities[level - 1] ?? ev.severities[ev.severities.length - 1] ?? 'minor'
    const threshold = ev.thresholds[level - 1] ?? undefined
    return store.transaction(() => {
      const active = st.alertId ? store.get(st.alertId) : store.active(rule.id, ev.subject.key)
      let change: AlertChange | undefined
      if (level > 0 && (!active || active.state === 'resolved') && level <= prev) {
        // Resolved by an officer while the condition held: lowering does not reopen it.
        st.alertId = null
      } else if (level > 0) {
        const title = cond.title(ev.subject, level, ev.value)
        if (!active || active.state === 'resolved') {
          const id = newId()
          store.insert({
            id, rule: rule.id, kind: cond.kind, subject: ev.subject.key, station: ev.subject.station, device: ev.subject.device,
            zone: ev.subject.zone, district: ev.subject.district, severity, level, value: ev.value, threshold: threshold ?? undefined,
            unit: ev.unit || undefined, title, late, at, attentionSince: now(),
          })
          st.alertId = id
          change = record(id, { at, event_ts: eventTs, action: 'opened', severity, level, value: ev.value, state: 'open', by: 'system', late })
        } else {
          const action: ChangeAction = level > (active.level ?? 0) ? 'raised' : 'lowered'
          // A raise needs a new acknowledgement: the officer acknowledged a smaller danger.
          const state = action === 'raised' ? 'open' : active.state
          store.update(active.id, {
            updated_at: at, severity, level, value: ev.value, threshold: threshold ?? undefined, title, state, late,
            ...(action === 'raised' ? { attentionSince: now(), acknowledged: null } : {}),
          })
          change = record(active.id, { at, event_ts: eventTs, action, severity, level, value: ev.value, state, by: 'system', late })
        }
      } else if (active && active.state !== 'resolved') {
        store.update(active.id, { updated_at: at, state: 'resolved', value: ev.value, late, resolved: { by: 'system', at } })
        st.alertId = null
        change = record(active.id, { at, event_ts: eventTs, action: 'resolved', severity: active.severity, level: 0, value: ev.value, state: 'resolved', by: 'system', late })
      } else {
        st.alertId = null
      }
      store.saveRuleState(rule.id, ev.subject.key, st)
      return change
    })
  }

  // The state of each (condition, subject), found with one lookup per evaluation rather than
  // three (state key, then state): per condition, subject key → its state key and state. Made
  // again with the conditions; holds the same objects as `states`.
  interface Slot { key: string; st: LevelState & { data?: unknown } }
  let slots: Array<Map<string, Slot>> = []
  let dataOf: Array<(subjectKey: string) => { data?: unknown }> = []
  function resetSlots(): void {
    slots = conditions.map(() => new Map())
    dataOf = conditions.map((c, ci) => (subjectKey: string) => slotOf(ci, c.rule.id, subjectKey).st)
  }
  resetSlots()

  function slotOf(ci: number, rule: string, subjectKey: string): Slot {
    const bySubject = slots[ci]!
    let slot = bySubject.get(subjectKey)
    if (slot === undefined) {
      const key = sk(rule, subjectKey)
      slot = { key, st: levelState(rule, subjectKey, key) }
      bySubject.set(subjectKey, slot)
    }
    return slot
  }

  function handle(input: Input): void {
    let changes: AlertChange[] | undefined
    for (let ci = 0; ci < conditions.length; ci++) {
      const cond = conditions[ci]!
      const wants = cond.consumes
      if (wants.type !== input.type || (wants.type === 'reading' && input.type === 'reading' && input.reading.values[wants.metric] === undefined)) continue
      const ev = cond.evaluate(input, dataOf[ci]!)
      if (ev === undefined) continue
      const { key, st } = slotOf(ci, cond.rule.id, ev.subject.key)
      if (ev.ts < st.lastTs) {
        // Out of order for this subject: durations run forward in event time only.
        m.outOfOrder.inc()
        dirty.add(key)
        continue
      }
      const prev = st.level
      const target = targetLevel(ev.value, ev.thresholds, ev.hysteresis, st.level)
      const applied = stepLevel(st, target, ev.ts, ev.minDurationMs)
      if (applied === undefined) {
        dirty.add(key)
        continue
      }
      try {
        const late = input.type === 'reading' ? input.reading.late || now() - input.reading.ts > lateAfterMs : now() - input.detection.ts > lateAfterMs
        const c = applyLevel(cond, ev, st, prev, applied, late)
        if (c) (changes ??= []).push(c)
      } catch (err) {
        log.error({ err, rule: cond.rule.id, subject: ev.subject.key }, 'alert change failed')
      }
    }
    if (changes) emitAfterCommit(changes)
  }

  // The silence rules that track each device, with their state: worked out on the device's first
  // reading (its kind does not change) so that a reading touches only those. A rule tracks a device
  // when its filters take the device or when it already holds state for it (a rule whose filters
  // changed must still hear from the devices it watched). A status carries no kind: it finds only
  // the rules already holding state, and what it finds is not kept. Cleared when rules or states
  // reload; bounded by the fleet, cleared past 100k devices (trackedByDevice, declared with the states).
  function trackedOf(device: string, kind: string | undefined, station: string | null | undefined, district: string | null | undefined, t: number): Tracked[] {
    let list = trackedByDevice.get(device)
    if (list) return list
    list = []
    const subject = deviceSubject(device)
    for (const rule of silenceRules) {
      const key = sk(rule.id, subject)
      let st = silence.get(key)
      if (!st) {
        if (kind === undefined) continue
        if (rule.device_kinds && rule.device_kinds.length > 0 && !rule.device_kinds.includes(kind as never)) continue
        if (rule.devices && rule.devices.length > 0 && !rule.devices.includes(device) && !rule.devices.includes('*')) continue
        st = { lastSeen: t, kind, station: station ?? undefined, district: district ?? undefined, alertId: null }
        silence.set(key, st)
      }
      list.push({ rule, key, st })
    }
    if (kind === undefined) return list
    if (trackedByDevice.size > 100_000) trackedByDevice.clear()
    trackedByDevice.set(device, list)
    return list
  }

  // Silence: about the link, so it runs on arrival (wall-clock) time, not event time.
  function seen(device: string, kind: string | undefined, station: string | null | undefined, district: string | null | undefined): void {
    if (silenceRules.length === 0) return
    const t = now()
    let changes: AlertChange[] | undefined
    for (const { rule, key, st } of trackedOf(device, kind, station, district, t)) {
      st.lastSeen = t
      dirty.add(key)
      if (st.alertId) {
        const alertId = st.alertId
        const c = store.transaction(() => {
          const a = store.get(alertId)
          st.alertId = null
          store.saveRuleState(rule.id, `device:${device}`, st)
          if (!a || a.state === 'resolved') return undefined
          const at = new Date(now()).toISOString()
          store.update(alertId, { updated_at: at, state: 'resolved', level: 0, resolved: { by: 'system', at } })
          return record(alertId, { at, action: 'resolved', severity: a.severity, level: 0, state: 'resolved', by: 'system' })
        })
        if (c) (changes ??= []).push(c)
      }
    }
    if (changes) emitAfterCommit(changes)
  }

  function checkSilence(): void {
    const changes: AlertChange[] = []
    const t = now()
    for (const rule of silenceRules) {
      const expected = rule.expected_interval_s * 1000
      for (const [key, st] of silence) {
        const [ruleId, subject] = split(key)
        if (ruleId !== rule.id || st.alertId || t - st.lastSeen <= expected) continue
        const device = subject.slice('device:'.length)
        const severity: Severity = rule.severity ?? 'minor'
        const silentS = Math.round((t - st.lastSeen) / 1000)
        const c = store.transaction(() => {
          const at = new Date(t).toISOString()
          const id = newId()
          const active = store.active(rule.id, subject)
          if (active) {
            st.alertId = active.id
            return undefined
          }
          store.insert({
            id, rule: rule.id, kind: 'silence', subject, device, station: st.station, district: st.district, severity, level: 1,
            value: silentS, threshold: rule.expected_interval_s, unit: 's', title: `Thiết bị ${device} mất tín hiệu ${Math.round(silentS / 60)} phút`,
            late: false, at, attentionSince: t,
          })
          st.alertId = id
          store.saveRuleState(rule.id, subject, st)
          return record(id, { at, action: 'opened', severity, level: 1, value: silentS, state: 'open', by: 'system' })
        })
        if (c) changes.push(c)
      }
    }
    if (changes.length > 0) emitAfterCommit(changes)
  }

  function human(id: string, by: string, note: string | undefined, action: 'acknowledged' | 'resolved'): Alert {
    const c = store.transaction(() => {
      const a = store.get(id)
      if (!a) throw new AlertError('not_found', `alert ${id} not found: list alerts with GET /api/v1/alerts`)
      if (a.state === 'resolved') throw new AlertError('conflict', `alert ${id} is already resolved (by ${a.resolved?.by ?? 'system'} at ${a.resolved?.at ?? '?'})`)
      if (action === 'acknowledged' && a.state === 'acknowledged') throw new AlertError('conflict', `alert ${id} is already acknowledged by ${a.acknowledged?.by ?? '?'} at ${a.acknowledged?.at ?? '?'}`)
      const at = new Date(now()).toISOString()
      const who = { by, at, note }
      store.update(id, action === 'acknowledged' ? { updated_at: at, state: 'acknowledged', acknowledged: who } : { updated_at: at, state: 'resolved', resolved: who })
      if (action === 'resolved') {
        // The condition may still hold: it opens a new alert only when it comes back (clears, then rises).
        const row = shared.db.prepare('SELECT subject FROM alerts WHERE id = ?').get(id) as { subject: string }
        const key = sk(a.rule, row.subject)
        const st = states.get(key) ?? (store.loadRuleState(a.rule, row.subject) as (LevelState & SilenceState) | undefined)
        if (st) {
          st.alertId = null
          store.saveRuleState(a.rule, row.subject, st)
        }
        const sil = silence.get(key)
        if (sil) {
          sil.alertId = null
          sil.lastSeen = now()
          store.saveRuleState(a.rule, row.subject, sil)
        }
      }
      return record(id, { at, action, severity: a.severity, level: a.level, state: action === 'acknowledged' ? 'acknowledged' : 'resolved', by, note })
    })
    emitAfterCommit([c])
    return c.alert
  }

  const readingsEvaluated = opts.metrics.hotCounter(m.evaluated, { type: 'reading' })
  const onReading = (r: Reading) => {
    readingsEvaluated.inc()
    try {
      handle({ type: 'reading', reading: r })
      seen(r.device, r.kind, r.station, r.district)
    } catch (err) {
      log.error({ err, device: r.device }, 'alert evaluation failed')
    }
  }
  const onDetection = (d: DetectionEvent) => {
    m.evaluated.inc({ type: 'detection' })
    try {
      handle({ type: 'detection', detection: d })
      seen(d.camera, 'camera', d.station, d.district)
    } catch (err) {
      log.error({ err, camera: d.camera }, 'alert evaluation failed')
    }
  }
  const onStatus = (s: DeviceStatusEvent) => {
    if (!s.online) return
    try { seen(s.device, undefined, undefined, undefined) } catch (err) { log.error({ err }, 'silence tracking failed') }
  }
  opts.bus?.on('reading', onReading)
  opts.bus?.on('detection', onDetection)
  opts.bus?.on('device-status', onStatus)
  const flushTimer = setInterval(() => { try { flush() } catch (err) { log.error({ err }, 'rule state flush failed') } }, opts.flushMs ?? 1000)
  const silenceTimer = setInterval(() => { try { checkSilence() } catch (err) { log.error({ err }, 'silence check failed') } }, opts.silenceCheckMs ?? 5000)
  flushTimer.unref()
  silenceTimer.unref()

  return {
    store,
    db: shared.db,
    list: (f, p) => store.list(f, p),
    get: (id) => store.get(id),
    acknowledge: (id, by, note) => human(id, by, note, 'acknowledged'),
    resolve: (id, by, note) => human(id, by, note, 'resolved'),
    rules: () => doc,
    replaceRules(input) {
      let next: RulesDoc
      try {
        next = parseRules(input)
      } catch (err) {
        m.ruleRejects.inc()
        throw err
      }
      flush()
      saveRules(opts.dataDir, next)
      doc = next
      conditions = compileConditions(next.rules, opts.stations)
      silenceRules = next.rules.filter((r): r is Silence => r.type === 'silence' && r.enabled !== false)
      states.clear()
      resetSlots()
      loadSilence()
      log.info({ rules: next.rules.length }, 'rules replaced')
      return next
    },
    onChange(l) {
      listeners.add(l)
      return () => listeners.delete(l)
    },
    setRouter(r) {
      router = r
    },
    handleReading: onReading,
    handleDetection: onDetection,
    handleStatus: onStatus,
    checkSilence,
    markEscalated(alertId, tier) {
      const a = store.get(alertId)
      if (!a || a.state !== 'open') return undefined
      const at = new Date(now()).toISOString()
      store.update(alertId, { updated_at: at, escalatedTier: tier })
      return record(alertId, { at, action: 'escalated', severity: a.severity, level: a.level, state: a.state, by: 'system', tier })
    },
    emitAfterCommit,
    flush,
    close() {
      opts.bus?.off('reading', onReading)
      opts.bus?.off('detection', onDetection)
      opts.bus?.off('device-status', onStatus)
      clearInterval(flushTimer)
      clearInterval(silenceTimer)
      try { flush() } catch (err) { log.error({ err }, 'rule state flush failed') }
      shared.release()
    },
  }
}

export type { AlertKind, Rule, Subject }
