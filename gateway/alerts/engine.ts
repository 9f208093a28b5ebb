// The alert engine: rules evaluated against every reading, detection and status on the bus,
// alerts stored with their history in alerts.db and each change fanned out. createAlerting wires
// named steps that share one AlertingState (alerting-state.ts): evaluate.ts (level conditions),
// silence.ts, fan-out.ts, human.ts and escalation.ts; the SQL is in store.ts.
import type { DetectionEvent, DeviceStatusEvent, GatewayBus, Reading } from '../bus/events.ts'
import type { Stations } from '../domain/stations.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import { alertingMetrics, flush, StateKeys, type AlertingState } from './alerting-state.ts'
import { compileConditions } from './conditions.ts'
import { openAlertsDb, type SharedDb } from './db.ts'
import { escalateDue, type EscalationOptions } from './escalation.ts'
import { raiseSystemAlert } from './fan-out.ts'
import { handle, resetSlots } from './evaluate.ts'
import { human } from './human.ts'
import { loadRules, parseRules, saveRules, type Rule, type RulesDoc, type Silence } from './rules.ts'
import { checkSilence, loadSilence, seen } from './silence.ts'
import { sqliteAlertStore, type AlertFilter } from './store.ts'
import type { Alert, AlertChange, AlertKind, ChangeEntry, ChangeRouter, Subject } from './types.ts'

export { AlertError } from './errors.ts'

export type { ChangeRouter } from './types.ts'

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
  /** Unacknowledged alerts go to the next contact tier (notify.escalation in config/gateway.yaml); off when absent. */
  escalation?: EscalationOptions | undefined
  /** A reading whose event time is older than this when it arrives marks its alert change late. */
  lateAfterMs?: number | undefined
  silenceCheckMs?: number | undefined
  /** How often dirty rule state is written (between alert changes, which write it at once). */
  flushMs?: number | undefined
  now?: (() => number) | undefined
}

/** An alert raised by the gateway about itself, not by a rule. */
export interface SystemAlert {
  rule: string
  kind: AlertKind
  subject: string
  severity: ChangeEntry['severity']
  title: string
  note?: string | undefined
}

export interface Alerting {
  /** The alerts.db connection, for what commits with alert changes (webhook deliveries, exports). */
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
  /** Escalates the unacknowledged alerts that are due now (also run every escalation.checkMs). */
  checkEscalation(): void
  /**
   * Opens an alert raised by the gateway itself (e.g. a disabled webhook, docs/webhooks.md) unless
   * one is already active for (rule, subject), and emits it like any change. Answers it if opened.
   */
  raiseSystemAlert(a: SystemAlert): Alert | undefined
  flush(): void
  close(): void
}

/** A reading on the bus: through the level conditions, then the silence rules. */
function readingArrived(ctx: AlertingState, r: Reading): void {
  ctx.m.readingsEvaluated.inc()
  try {
    handle(ctx, { type: 'reading', reading: r })
    seen(ctx, r.device, r.kind, r.station, r.district)
  } catch (err) {
    ctx.log.error({ err, device: r.device }, 'alert evaluation failed')
  }
}

/** A camera detection on the bus: through the level conditions, then the silence rules. */
function detectionArrived(ctx: AlertingState, d: DetectionEvent): void {
  ctx.m.evaluated.inc({ type: 'detection' })
  try {
    handle(ctx, { type: 'detection', detection: d })
    seen(ctx, d.camera, 'camera', d.station, d.district)
  } catch (err) {
    ctx.log.error({ err, camera: d.camera }, 'alert evaluation failed')
  }
}

/** A device status on the bus: an online one is news from the device (silence rules only). */
function statusArrived(ctx: AlertingState, s: DeviceStatusEvent): void {
  if (!s.online) return
  try {
    seen(ctx, s.device, undefined, undefined, undefined)
  } catch (err) {
    ctx.log.error({ err }, 'silence tracking failed')
  }
}

/** PUT /api/v1/rules: validated (a refusal is counted), stored, then applied with fresh caches. */
function replaceRules(ctx: AlertingState, input: unknown): RulesDoc {
  let next: RulesDoc
  try {
    next = parseRules(input)
  } catch (err) {
    ctx.m.ruleRejects.inc()
    throw err
  }
  flush(ctx)
  saveRules(ctx.opts.dataDir, next)
  ctx.doc = next
  ctx.conditions = compileConditions(next.rules, ctx.opts.stations)
  ctx.silenceRules = enabledSilences(next)
  ctx.states.clear()
  resetSlots(ctx)
  loadSilence(ctx)
  ctx.log.info({ rules: next.rules.length }, 'rules replaced')
  return next
}

const enabledSilences = (doc: RulesDoc): Silence[] => doc.rules.filter((r): r is Silence => r.type === 'silence' && r.enabled !== false)

export function createAlerting(opts: AlertingOptions): Alerting {
  const shared = openAlertsDb(opts.dataDir)
  const store = sqliteAlertStore(shared.db)
  const doc = opts.rules ? parseRules(opts.rules) : loadRules(opts.dataDir, opts.rulesFile)
  const ctx: AlertingState = {
    opts,
    now: opts.now ?? Date.now,
    lateAfterMs: opts.lateAfterMs ?? 120_000,
    db: shared.db,
    store,
    log: opts.logger.child({ component: 'alerts' }),
    m: alertingMetrics(opts.metrics),
    router: opts.router,
    doc,
    conditions: compileConditions(doc.rules, opts.stations),
    silenceRules: enabledSilences(doc),
    listeners: new Set(),
    states: new Map(),
    silence: new Map(),
    trackedByDevice: new Map(),
    dirty: new Set(),
    keys: new StateKeys(),
    slots: [],
    dataOf: [],
  }
  loadSilence(ctx)
  ctx.m.open.set(store.countOpen())
  resetSlots(ctx)

  const onReading = (r: Reading) => readingArrived(ctx, r)
  const onDetection = (d: DetectionEvent) => detectionArrived(ctx, d)
  const onStatus = (s: DeviceStatusEvent) => statusArrived(ctx, s)
  opts.bus?.on('reading', onReading)
  opts.bus?.on('detection', onDetection)
  opts.bus?.on('device-status', onStatus)
  const flushTimer = setInterval(() => {
    try {
      flush(ctx)
    } catch (err) {
      ctx.log.error({ err }, 'rule state flush failed')
    }
  }, opts.flushMs ?? 1000)
  const silenceTimer = setInterval(() => {
    try {
      checkSilence(ctx)
    } catch (err) {
      ctx.log.error({ err }, 'silence check failed')
    }
  }, opts.silenceCheckMs ?? 5000)
  flushTimer.unref()
  silenceTimer.unref()
  const esc = opts.escalation
  const escalate = () => {
    if (esc) escalateDue(ctx, esc)
  }
  const escTimer = esc
    ? setInterval(() => {
        try {
          escalate()
        } catch (err) {
          ctx.log.error({ err }, 'escalation check failed')
        }
      }, esc.checkMs)
    : undefined
  escTimer?.unref()

  return {
    db: shared.db,
    list: (f, p) => store.list(f, p),
    get: (id) => store.get(id),
    acknowledge: (id, by, note) => human(ctx, id, by, note, 'acknowledged'),
    resolve: (id, by, note) => human(ctx, id, by, note, 'resolved'),
    rules: () => ctx.doc,
    replaceRules: (input) => replaceRules(ctx, input),
    onChange(l) {
      ctx.listeners.add(l)
      return () => ctx.listeners.delete(l)
    },
    setRouter(r) {
      ctx.router = r
    },
    handleReading: onReading,
    handleDetection: onDetection,
    handleStatus: onStatus,
    checkSilence: () => checkSilence(ctx),
    checkEscalation: escalate,
    raiseSystemAlert: (a) => raiseSystemAlert(ctx, a),
    flush: () => flush(ctx),
    close() {
      opts.bus?.off('reading', onReading)
      opts.bus?.off('detection', onDetection)
      opts.bus?.off('device-status', onStatus)
      clearInterval(flushTimer)
      clearInterval(silenceTimer)
      if (escTimer) clearInterval(escTimer)
      try {
        flush(ctx)
      } catch (err) {
        ctx.log.error({ err }, 'rule state flush failed')
      }
      shared.release()
    },
  }
}

export type { AlertKind, Rule, Subject }
