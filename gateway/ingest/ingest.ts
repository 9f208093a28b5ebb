import type { DevicePublish, DevicePublishHandler } from '../broker/types.ts'
import type { GatewayBus } from '../bus/events.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { DeviceRegistry } from '../registry/types.ts'
import type { TimeSeriesStore } from '../store/types.ts'
import { memoryHourlyMeans, type HourlyMeans } from './aqi-state.ts'
import Value from 'typebox/value'
import { IngestSection, type IngestConfig } from './config.ts'
import { Gate } from './gate.ts'
import { ingestMetrics, record, type IngestState } from './ingest-state.ts'
import { BoundedMap, RecentReadings } from '../util/lru.ts'
import type { PointSink } from './points.ts'
import { RejectWarnings } from './reject-warnings.ts'
import { memoryRejectLog, type RejectLog, type RejectRecord } from './rejects.ts'
import { memoryRiseRate, type RiseRateState } from './rise-rate.ts'
import { NO_STATIONS, type Stations } from '../domain/stations.ts'
import { statusArrived } from './status-steps.ts'
import { telemetryArrived } from './telemetry-steps.ts'
import { DerivedSeries } from './derived-state.ts'
import { warmUp, type WarmUpResult } from './warm-up.ts'

export interface IngestDeps {
  registry?: DeviceRegistry
  store: PointSink
  bus: GatewayBus
  logger: Logger
  metrics: Metrics
  stations?: Stations
  config?: Partial<IngestConfig>
  /** Derived-value state; in-process by default, shared implementations for several nodes. */
  state?: { hourly?: HourlyMeans; rise?: RiseRateState; rejects?: RejectLog }
  now?: () => number
  /** Refusals of one device are logged at most once per this many ms (default a minute). */
  rejectWarnEveryMs?: number
}

export interface Ingest {
  telemetry: DevicePublishHandler
  status: DevicePublishHandler
  recentRejects(deviceId: string): RejectRecord[]
  /**
   * Records a message refused elsewhere (a camera frame, docs/mqtt.md) beside the telemetry
   * refusals: kept for GET /devices/:id/rejects and counted in the device's warning line.
   */
  recordRefusal(msg: DevicePublish, reason: string, message: string): void
  /** Hourly means per device, for daily VN_AQI (dailyAqiFor). */
  readonly hourly: HourlyMeans
  /**
   * Rebuilds the derived-value state (hourly means, rise-rate windows) from what `source` holds;
   * run at start-up before devices connect (warm-up.ts).
   */
  warmUp(source: Pick<TimeSeriesStore, 'queryPoints'>): Promise<WarmUpResult>
}

/** The section's defaults, from its schema only (config.ts). */
const DEFAULTS = Value.Default(IngestSection, {}) as IngestConfig

/**
 * Telemetry and status handlers for the broker (gateway/broker/types.ts): every message is parsed,
 * checked per kind, normalised to canonical units, enriched with derived values, written to the
 * time-series store and only then acknowledged (the handler resolves) and announced on the bus.
 * A message that can never be accepted resolves after being counted and recorded; only a store
 * failure rejects, so the broker withholds PUBACK and a QoS 1 publisher resends.
 * The steps are named, module-level functions sharing one IngestState: telemetry-steps.ts
 * (telemetryArrived → acceptReadings → writeReadings → announce) and status-steps.ts.
 */
export function createIngest(deps: IngestDeps): Ingest {
  const cfg: IngestConfig = { ...DEFAULTS, ...deps.config }
  const log = deps.logger.child({ component: 'ingest' })
  const gate = new Gate(cfg.maxConcurrentMessages)
  const m = ingestMetrics(deps.metrics)
  const ing: IngestState = {
    deps,
    cfg,
    now: deps.now ?? Date.now,
    stations: deps.stations ?? NO_STATIONS,
    hourly: deps.state?.hourly ?? memoryHourlyMeans(),
    rise: deps.state?.rise ?? memoryRiseRate(),
    derived: new DerivedSeries(),
    rejects: deps.state?.rejects ?? memoryRejectLog({ perDevice: cfg.rejectsPerDevice }),
    limits: { maxFutureMs: cfg.maxFutureSeconds * 1000, maxAgeMs: cfg.maxAgeDays * 86_400_000 },
    lateAfterMs: cfg.lateAfterSeconds * 1000,
    seen: new RecentReadings(cfg.dedupWindow),
    lastTs: new BoundedMap<string, number>(100_000),
    log,
    gate,
    warnings: new RejectWarnings(log, deps.rejectWarnEveryMs ?? 60_000),
    m,
    telemetryMessages: deps.metrics.hotCounter(m.messages, { topic: 'telemetry' }),
    readingsStored: deps.metrics.hotCounter(m.readings),
    lateReadings: deps.metrics.hotCounter(m.late),
  }
  deps.metrics.gaugeReading(
    'ingest_waiting_messages',
    'Telemetry messages waiting for a place (maxConcurrentMessages) before being parsed',
    () => gate.queued,
  )
  for (const r of ['invalid_json', 'invalid_payload', 'out_of_range', 'ts_future']) m.rejected.inc({ reason: r }, 0)

  return {
    telemetry: (msg) => telemetryArrived(ing, msg),
    status: (msg) => statusArrived(ing, msg),
    recentRejects: (id) => ing.rejects.recent(id),
    recordRefusal: (msg, reason, message) => record(ing, msg, reason, message),
    hourly: ing.hourly,
    async warmUp(source) {
      const started = performance.now()
      const r = await warmUp(source, { hourly: ing.hourly, rise: ing.rise }, ing.stations, ing.now())
      log.info({ ...r, ms: Math.round(performance.now() - started) }, 'derived-value state rebuilt from the store')
      return r
    },
  }
}
