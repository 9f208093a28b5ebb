// The alert engine: rules evaluated against every reading, detection and status on the bus,
// alerts stored with their history in alerts.db and each change fanned out. createAlerting wires
// named steps that share one AlertingState (alerting-state.ts): evaluate.ts (level conditions),
// silence.ts, fan-out.ts, human.ts and escalation.ts. The store (store.ts) is alerts.db
// (sqlite-store.ts) unless one is given (PostgreSQL, postgres/store.ts). Work on one subject runs
// in arrival order (ordering.ts); each public method answers once its work is stored. In cluster
// mode with Redis each subject is evaluated only by the node owning its partition (partitions.ts).
import type { DetectionEvent, DeviceStatusEvent, GatewayBus, Reading } from '../bus/events.ts'
import type { Stations } from '../domain/stations.ts'
import { FailureRun } from '../log/failure-run.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import { alertingMetrics, flush, forgetSubjects, StateKeys, type AlertingState } from './alerting-state.ts'
import { compileConditions, type Input } from './conditions.ts'
import { openAlertsDb, type SharedDb } from './db.ts'
import { FencedError } from './errors.ts'
import { escalateDue, type EscalationOptions } from './escalation.ts'
import { raiseSystemAlert } from './fan-out.ts'
import { handle, inputPartition, resetSlots } from './evaluate.ts'
import { human } from './human.ts'
import { KeyedQueue } from './ordering.ts'
import { AlertPartitions, routedSubject, type AlertPartitionsOptions, type RoutedInput } from './partitions.ts'
import { loadRules, parseRules, saveRules, type Rule, type RulesDoc, type Silence } from './rules.ts'
import { adoptSilence, checkSilence, loadSilence, seen, seenReading, seenWindowMs } from './silence.ts'
import { sqliteAlertStore } from './sqlite-store.ts'
import type { AlertFilter, AlertPage, AlertStore, Fence } from './store.ts'
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
  /**
   * Cluster mode (docs/operations.md "Rules across nodes"): a PUT is stored here (PostgreSQL,
   * postgres/rules-store.ts), which applies it through applyRules, instead of <dataDir>/rules.yaml.
   */
  rulesStore?: { save(doc: RulesDoc, by: string): Promise<void> } | undefined
  router?: ChangeRouter | undefined
  /**
   * Where alerts, their history and rule state live; default alerts.db. Opened by the caller
   * (open-store.ts), closed by close(). The outbox and webhook deliveries go with it (AlertTx).
   */
  store?: AlertStore | undefined
  /** Unacknowledged alerts go to the next contact tier (notify.escalation in config/gateway.yaml); off when absent. */
  escalation?: EscalationOptions | undefined
  /** A reading whose event time is older than this when it arrives marks its alert change late. */
  lateAfterMs?: number | undefined
  silenceCheckMs?: number | undefined
  /** How often dirty rule state is written (between alert changes, which write it at once). */
  flushMs?: number | undefined
  now?: (() => number) | undefined
  /**
   * Cluster mode with a PostgreSQL store and Redis (docs/operations.md "Alert rules across
   * nodes"): each subject's inputs (level conditions and silence) are evaluated by the node
   * owning its partition (partitions.ts). Unset: every input reaching this node is evaluated here.
   */
  partitions?: AlertPartitionsConfig | undefined
}

/** What the gateway gives the partitions (partitions.ts); the engine adds the evaluation steps. */
export type AlertPartitionsConfig = Pick<AlertPartitionsOptions, 'leases' | 'redisUrl' | 'nodeId' | 'count' | 'holdMs'>

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
  readonly store: AlertStore
  list(filter: AlertFilter, page: { limit: number; cursor?: string | undefined }): Promise<AlertPage>
  get(id: string): Promise<Alert | undefined>
  acknowledge(id: string, by: string, note?: string): Promise<Alert>
  resolve(id: string, by: string, note?: string): Promise<Alert>
  rules(): RulesDoc
  /**
   * Validates, stores in <dataDir>/rules.yaml (or the rulesStore) and applies. Rejects with
   * RuleError naming the field. `by` is who changed them (kept with the version in a cluster).
   */
  replaceRules(doc: unknown, by?: string): Promise<RulesDoc>
  /** Applies an already validated and stored document, as after a PUT (rules changed on another node). */
  applyRules(doc: RulesDoc): Promise<void>
  onChange(listener: (c: AlertChange) => void): () => void
  setRouter(router: ChangeRouter): void
  /** Resolves once the input is evaluated and what it changed is stored and emitted (failures are logged). */
  handleReading(r: Reading): Promise<void>
  handleDetection(d: DetectionEvent): Promise<void>
  handleStatus(s: DeviceStatusEvent): Promise<void>
  checkSilence(): Promise<void>
  /** Escalates the unacknowledged alerts that are due now (also run every escalation.checkMs). */
  checkEscalation(): Promise<void>
  /**
   * Opens an alert raised by the gateway itself (e.g. a disabled webhook, docs/webhooks.md) unless
   * one is already active for (rule, subject), and emits it like any change. Answers it if opened.
   */
  raiseSystemAlert(a: SystemAlert): Promise<Alert | undefined>
  flush(): Promise<void>
  /** Resolves when every input and action queued so far has been handled. */
  idle(): Promise<void>
  close(): Promise<void>
}

/**
 * A step of alert work on one input, run in its subject's order. The step and its input are passed
 * apart rather than as a closure: nearly every reading runs at once, and a closure (with the scope
 * it captures) per reading was a large share of what the engine allocated.
 */
type Step<A> = (ctx: AlertingState, input: A, fence?: Fence) => Promise<void> | undefined

/** What a failed step logs; `fencedToCaller`: a FencedError goes back to the router (partitions.ts), which sends the input on. */
interface Failure {
  message: string
  fencedToCaller: boolean
}
const EVALUATION_FAILED: Failure = { message: 'alert evaluation failed', fencedToCaller: false }
const SILENCE_FAILED: Failure = { message: 'silence tracking failed', fencedToCaller: false }
const OWNED_EVALUATION_FAILED: Failure = { message: 'alert evaluation failed', fencedToCaller: true }
const OWNED_SILENCE_FAILED: Failure = { message: 'silence tracking failed', fencedToCaller: true }

function stepFailed(ctx: AlertingState, key: string, failure: Failure, err: unknown): void {
  if (failure.fencedToCaller && err instanceof FencedError) throw err
  ctx.log.error({ err, subject: key }, failure.message)
}

/**
 * Runs `step` on `input` in `key`'s order once the engine has started: at once when nothing of the
 * key is queued (ordering.ts `post`), undefined when it finished synchronously. A failure is
 * logged (stepFailed), never thrown at the bus, except a FencedError where `failure` passes it on.
 * The paths that wait are functions of their own: a closure here would have V8 allocate this
 * function's scope on every call, also when it runs at once.
 */
function ordered<A>(
  ctx: AlertingState,
  ready: Readiness,
  key: string,
  step: Step<A>,
  input: A,
  fence: Fence | undefined,
  failure: Failure,
): Promise<void> | undefined {
  if (!ready.done) return afterStart(ctx, ready, key, step, input, fence, failure)
  let rest: Promise<void> | undefined
  try {
    rest = ctx.queue.post(key, step, ctx, input, fence)
  } catch (err) {
    rest = Promise.reject(err)
  }
  return rest && caught(ctx, key, failure, rest)
}

function afterStart<A>(
  ctx: AlertingState,
  ready: Readiness,
  key: string,
  step: Step<A>,
  input: A,
  fence: Fence | undefined,
  failure: Failure,
): Promise<void> {
  return ctx.queue.run(key, async () => {
    try {
      await ready.promise
      await step(ctx, input, fence)
    } catch (err) {
      stepFailed(ctx, key, failure, err)
    }
  })
}

function caught(ctx: AlertingState, key: string, failure: Failure, rest: Promise<void>): Promise<void> {
  return rest.catch((err: unknown) => stepFailed(ctx, key, failure, err))
}

/** The engine's start (silence states loaded): inputs before it wait for it; `done` once it has. */
interface Readiness {
  readonly promise: Promise<void>
  done: boolean
}

/**
 * Where an input goes: evaluated here, or (alert partitions, partitions.ts) on the node owning its
 * subject, where evaluateOwned runs it. Unset: this node evaluates everything that reaches it.
 */
type Route = ((input: RoutedInput) => Promise<void> | undefined) | undefined

/** A reading on the bus: through the level conditions (its station's order), then the silence rules (its device's). */
function readingArrived(ctx: AlertingState, ready: Readiness, route: Route, r: Reading): Promise<void> | undefined {
  ctx.m.readingsEvaluated.inc()
  const input = { type: 'reading', reading: r } as const
  const evaluated = route ? route(input) : ordered(ctx, ready, inputPartition(input), handle, input, undefined, EVALUATION_FAILED)
  if (ctx.silenceRules.length === 0) return evaluated
  const silence = route
    ? route({ type: 'seen', device: r.device, kind: r.kind, station: r.station, district: r.district })
    : ordered(ctx, ready, ctx.keys.device(r.device), seenReading, r, undefined, EVALUATION_FAILED)
  return evaluated && silence ? Promise.all([evaluated, silence]).then(() => undefined) : (evaluated ?? silence)
}

/** A camera detection: the level conditions, then the silence rules, both in the camera's order (its zones' subjects share it). */
async function detection(ctx: AlertingState, input: Input & { type: 'detection' }, fence?: Fence): Promise<void> {
  const d = input.detection
  await handle(ctx, input, fence)
  await seen(ctx, d.camera, 'camera', d.station, d.district, fence)
}

/** A camera detection on the bus. */
function detectionArrived(ctx: AlertingState, ready: Readiness, route: Route, d: DetectionEvent): Promise<void> | undefined {
  ctx.m.evaluated.inc({ type: 'detection' })
  const input = { type: 'detection', detection: d } as const
  if (route) return route(input)
  return ordered(ctx, ready, inputPartition(input), detection, input, undefined, EVALUATION_FAILED)
}

/**
 * An input of a partition this node owns (partitions.ts), in its subject's order, its writes
 * fenced: a FencedError goes back to the router, which sends the input on; other failures are logged.
 */
function evaluateOwned(ctx: AlertingState, ready: Readiness, input: RoutedInput, fence: Fence): Promise<void> | undefined {
  const failure = input.type === 'seen' ? OWNED_SILENCE_FAILED : OWNED_EVALUATION_FAILED
  return ordered(ctx, ready, routedSubject(input), evaluateRouted, input, fence, failure)
}

function evaluateRouted(ctx: AlertingState, input: RoutedInput, fence?: Fence): Promise<void> | undefined {
  if (input.type === 'seen') return seen(ctx, input.device, input.kind, input.station, input.district, fence)
  return input.type === 'detection' ? detection(ctx, input, fence) : handle(ctx, input, fence)
}

/** A device status on the bus: an online one is news from the device (silence rules only). */
function statusArrived(ctx: AlertingState, ready: Readiness, route: Route, s: DeviceStatusEvent): Promise<void> | undefined {
  if (!s.online || ctx.silenceRules.length === 0) return undefined
  if (route) return route({ type: 'seen', device: s.device })
  return ordered(ctx, ready, ctx.keys.device(s.device), seenDevice, s.device, undefined, SILENCE_FAILED)
}

function seenDevice(ctx: AlertingState, device: string, fence?: Fence): Promise<void> | undefined {
  return seen(ctx, device, undefined, undefined, undefined, fence)
}

/** PUT /api/v1/rules: validated (a refusal is counted), stored, then applied with fresh caches. */
async function replaceRules(ctx: AlertingState, input: unknown, by: string): Promise<RulesDoc> {
  let next: RulesDoc
  try {
    next = parseRules(input)
  } catch (err) {
    ctx.m.ruleRejects.inc()
    throw err
  }
  if (ctx.opts.rulesStore) {
    await ctx.opts.rulesStore.save(next, by)
    return next
  }
  await flush(ctx)
  saveRules(ctx.opts.dataDir, next)
  await applyRules(ctx, next)
  return next
}

/** The new document in force, with fresh caches (rule states restart from the stored ones). */
async function applyRules(ctx: AlertingState, next: RulesDoc): Promise<void> {
  await flush(ctx)
  await loadSilence(ctx, enabledSilences(next), () => {
    ctx.doc = next
    ctx.conditions = compileConditions(next.rules, ctx.opts.stations)
    ctx.states.clear()
    resetSlots(ctx)
  })
  ctx.log.info({ rules: next.rules.length }, 'rules replaced')
}

const enabledSilences = (doc: RulesDoc): Silence[] => doc.rules.filter((r): r is Silence => r.type === 'silence' && r.enabled !== false)

export function createAlerting(opts: AlertingOptions): Alerting {
  const shared = openAlertsDb(opts.dataDir)
  const store = opts.store ?? sqliteAlertStore(shared.db)
  const doc = opts.rules ? parseRules(opts.rules) : loadRules(opts.dataDir, opts.rulesFile)
  const ctx: AlertingState = {
    opts,
    now: opts.now ?? Date.now,
    lateAfterMs: opts.lateAfterMs ?? 120_000,
    db: shared.db,
    store,
    queue: new KeyedQueue(),
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
  resetSlots(ctx)
  // Inputs arriving before the silence states are loaded wait for them (each step awaits `ready`).
  const started = (async () => {
    await loadSilence(ctx)
    ctx.m.open.set(await store.countOpen())
  })()
  const ready: Readiness = { promise: started, done: false }
  started.then(
    () => (ready.done = true),
    (err: unknown) => ctx.log.error({ err }, 'alert state not loaded'),
  )
  const whenReady = <T>(fn: () => Promise<T>) => started.then(fn)

  const partitions = opts.partitions && store.backend === 'postgres' ? opts.partitions : undefined
  const router = partitions
    ? new AlertPartitions({
        ...partitions,
        logger: ctx.log,
        metrics: opts.metrics,
        evaluate: (input, fence) => evaluateOwned(ctx, ready, input, fence),
        forget: (belongs) => forgetSubjects(ctx, belongs),
        seenWindowMs: () => seenWindowMs(ctx.silenceRules),
        adopt: (belongs) => started.then(() => adoptSilence(ctx, belongs)),
      })
    : undefined
  ctx.owned = router
  const route: Route = router && ((input) => router.route(input))
  const onReading = (r: Reading) => readingArrived(ctx, ready, route, r)
  const onDetection = (d: DetectionEvent) => detectionArrived(ctx, ready, route, d)
  const onStatus = (s: DeviceStatusEvent) => statusArrived(ctx, ready, route, s)
  // The bus does not wait: each step logs its own failure.
  const busReading = (r: Reading) => void onReading(r)
  const busDetection = (d: DetectionEvent) => void onDetection(d)
  const busStatus = (s: DeviceStatusEvent) => void onStatus(s)
  opts.bus?.on('reading', busReading)
  opts.bus?.on('detection', busDetection)
  opts.bus?.on('device-status', busStatus)
  const periodicFailures = opts.metrics.counter(
    'alert_periodic_failures_total',
    "Failed runs of the alert engine's periodic work (rule state flush, silence and escalation checks)",
    ['job'],
  )
  // While the store is away (PostgreSQL down) these fail on every run: logged when that starts,
  // when the error changes, once a minute meanwhile and when they work again (failure-run.ts).
  const every = (ms: number, job: string, what: string, fn: () => Promise<void>) => {
    let running = false
    const run = new FailureRun({ log: ctx.log, what, fields: { job }, onFailure: () => periodicFailures.inc({ job }) })
    const t = setInterval(() => {
      // A slow store must not pile up runs of the same check.
      if (running) return
      running = true
      whenReady(fn)
        .then(
          () => run.succeeded(),
          (err: unknown) => run.failed(err),
        )
        .finally(() => (running = false))
    }, ms)
    t.unref()
    return t
  }
  const flushTimer = every(opts.flushMs ?? 1000, 'flush', 'rule state flush failed', () => flush(ctx))
  const silenceTimer = every(opts.silenceCheckMs ?? 5000, 'silence', 'silence check failed', () => checkSilence(ctx))
  const esc = opts.escalation
  const escalate = () => whenReady(() => (esc ? escalateDue(ctx, esc) : Promise.resolve()))
  const escTimer = esc ? every(esc.checkMs, 'escalation', 'escalation check failed', escalate) : undefined

  return {
    db: shared.db,
    store,
    list: (f, p) => store.list(f, p),
    get: (id) => store.get(id),
    acknowledge: (id, by, note) => whenReady(() => human(ctx, id, by, note, 'acknowledged')),
    resolve: (id, by, note) => whenReady(() => human(ctx, id, by, note, 'resolved')),
    rules: () => ctx.doc,
    replaceRules: (input, by) => whenReady(() => replaceRules(ctx, input, by ?? 'unknown')),
    applyRules: (doc) => whenReady(() => applyRules(ctx, doc)),
    onChange(l) {
      ctx.listeners.add(l)
      return () => ctx.listeners.delete(l)
    },
    setRouter(r) {
      ctx.router = r
    },
    handleReading: (r) => onReading(r) ?? Promise.resolve(),
    handleDetection: (d) => onDetection(d) ?? Promise.resolve(),
    handleStatus: (s) => onStatus(s) ?? Promise.resolve(),
    checkSilence: () => whenReady(() => checkSilence(ctx)),
    checkEscalation: escalate,
    raiseSystemAlert: (a) => whenReady(() => raiseSystemAlert(ctx, a)),
    flush: () => whenReady(() => flush(ctx)),
    idle: () => ctx.queue.idle(),
    async close() {
      opts.bus?.off('reading', busReading)
      opts.bus?.off('detection', busDetection)
      opts.bus?.off('device-status', busStatus)
      clearInterval(flushTimer)
      clearInterval(silenceTimer)
      if (escTimer) clearInterval(escTimer)
      await router?.close()
      await ctx.queue.idle()
      try {
        await flush(ctx)
      } catch (err) {
        ctx.log.error({ err }, 'rule state flush failed')
      }
      await store.close()
      shared.release()
    },
  }
}

export type { AlertKind, Rule, Subject }
