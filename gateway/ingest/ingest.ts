import type { DevicePublish, DevicePublishHandler } from '../broker/types.ts'
import type { GatewayBus, Reading } from '../bus/events.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import { DeviceStatus, METRICS_BY_KIND } from '../protocol/index.ts'
import type { Device, DeviceKind, DeviceRegistry } from '../registry/types.ts'
import { Compile } from 'typebox/compile'
import Value from 'typebox/value'
import { StoreError, type TimeSeriesStore } from '../store/types.ts'
import { hourStartOf, hourlyAqiAt, memoryHourlyMeans, type HourlyMeans } from './aqi-state.ts'
import { checkReading, type CheckLimits } from './checks.ts'
import { IngestSection, type IngestConfig } from './config.ts'
import { Gate } from './gate.ts'
import { BoundedMap, RecentReadings, SeqTsSet } from '../util/lru.ts'
import { parseTelemetry, type Candidate } from './parse.ts'
import { readingPoint, rejectPoint, statusPoint, type PointSink } from './points.ts'
import { Refused, type RejectReason } from './reasons.ts'
import { RejectWarnings } from './reject-warnings.ts'
import { excerptOf, memoryRejectLog, type RejectLog, type RejectRecord } from './rejects.ts'
import { memoryRiseRate, type RiseRateState } from './rise-rate.ts'
import { NO_STATIONS, type Stations } from '../domain/stations.ts'
import { parseTs } from './timestamps.ts'
import { AQI_POLLUTANTS } from '../domain/vn-aqi.ts'
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

const checkStatus = Compile(DeviceStatus)

/** Kinds whose readings may carry a VN_AQI pollutant (checks refuse the others' pollutants). */
const REPORTS_POLLUTANTS = Object.fromEntries(
  Object.entries(METRICS_BY_KIND).map(([kind, metrics]) => [kind, AQI_POLLUTANTS.some((p) => metrics.has(p))]),
) as Record<DeviceKind, boolean>

/**
 * Telemetry and status handlers for the broker (gateway/broker/types.ts): every message is parsed,
 * checked per kind, normalised to canonical units, enriched with derived values, written to the
 * time-series store and only then acknowledged (the handler resolves) and announced on the bus.
 * A message that can never be accepted resolves after being counted and recorded; only a store
 * failure rejects, so the broker withholds PUBACK and a QoS 1 publisher resends.
 */
export function createIngest(deps: IngestDeps): Ingest {
  const cfg: IngestConfig = { ...DEFAULTS, ...deps.config }
  const now = deps.now ?? Date.now
  const stations = deps.stations ?? NO_STATIONS
  const hourly = deps.state?.hourly ?? memoryHourlyMeans()
  const rise = deps.state?.rise ?? memoryRiseRate()
  const rejects = deps.state?.rejects ?? memoryRejectLog({ perDevice: cfg.rejectsPerDevice })
  const limits: CheckLimits = { maxFutureMs: cfg.maxFutureSeconds * 1000, maxAgeMs: cfg.maxAgeDays * 86_400_000 }
  const lateAfterMs = cfg.lateAfterSeconds * 1000
  const seen = new RecentReadings(cfg.dedupWindow)
  const lastTs = new BoundedMap<string, number>(100_000)
  const log = deps.logger.child({ component: 'ingest' })
  const gate = new Gate(cfg.maxConcurrentMessages)
  const warnings = new RejectWarnings(log, deps.rejectWarnEveryMs ?? 60_000)

  const m = {
    messages: deps.metrics.counter('ingest_messages_total', 'Device messages handled by ingest, by topic', ['topic']),
    readings: deps.metrics.counter('ingest_readings_stored_total', 'Readings stored (durable) by ingest'),
    rejected: deps.metrics.counter('ingest_rejected_total', 'Refused telemetry/status messages (or readings of a batch), by reason', ['reason']),
    duplicates: deps.metrics.counter('ingest_duplicates_total', 'Readings already stored (same device, seq and ts), dropped'),
    late: deps.metrics.counter('ingest_late_total', 'Readings stored with their own time after arriving late or out of order'),
    storeFailures: deps.metrics.counter('ingest_store_failures_total', 'Writes that failed; the message was not acknowledged'),
  }
  deps.metrics.gaugeReading('ingest_waiting_messages', 'Telemetry messages waiting for a place (maxConcurrentMessages) before being parsed', () => gate.queued)
  // Per message and per reading: summed locally, handed to prom-client when read.
  const telemetryMessages = deps.metrics.hotCounter(m.messages, { topic: 'telemetry' })
  const readingsStored = deps.metrics.hotCounter(m.readings)
  const lateReadings = deps.metrics.hotCounter(m.late)
  for (const r of ['invalid_json', 'invalid_payload', 'out_of_range', 'ts_future']) m.rejected.inc({ reason: r }, 0)

  function record(msg: DevicePublish, reason: string, message: string): void {
    rejects.add(msg.device.id, { ts: new Date(msg.receivedAt).toISOString(), topic: msg.topic, reason, message, excerpt: excerptOf(msg.payload) })
    warnings.note(msg.device.id, reason, msg.topic)
  }

  function refuse(msg: DevicePublish, reason: RejectReason, message: string): void {
    m.rejected.inc({ reason })
    record(msg, reason, message)
    log.debug({ device: msg.device.id, reason, detail: message }, 'refused')
    // Best effort: the refusal is already counted and recorded; a store outage must not turn a
    // refusal into a transient failure that makes the device resend forever.
    deps.store.write([rejectPoint(msg.device.id, reason, msg.receivedAt)]).catch(() => {})
  }

  function decode(msg: DevicePublish): unknown {
    if (msg.payload.length > cfg.maxPayloadBytes) throw new Refused('too_large', `payload is ${msg.payload.length} bytes; at most ${cfg.maxPayloadBytes}`)
    if (msg.payload.length === 0) throw new Refused('invalid_json', 'payload is empty: send a JSON reading')
    try {
      return JSON.parse(msg.payload.toString('utf8'))
    } catch (err) {
      throw new Refused('invalid_json', `payload is not valid JSON: ${(err as Error).message.slice(0, 120)}`)
    }
  }

  /**
   * Adds the derived numbers (alarm_level, rise_rate, aqi) to the reading's own values, which the
   * point and the bus then share without copying; returns the dominant pollutant, if any.
   */
  function derive(dev: Device, c: Candidate): string | undefined {
    const values = c.values
    const level = values.water_level
    if (level !== undefined) {
      const alarm = stations.alarmLevel(dev.station, level)
      if (alarm !== undefined) values.alarm_level = alarm
      const rate = rise.add(dev.id, c.ts, level, stations.riseWindowMs(dev.station))
      if (rate !== undefined) values.rise_rate = rate
    }
    if (!REPORTS_POLLUTANTS[dev.kind]) return undefined
    let hasPollutant = false
    for (const p of AQI_POLLUTANTS) {
      const v = values[p]
      if (v !== undefined) {
        hourly.add(dev.id, p, hourStartOf(c.ts), v)
        hasPollutant = true
      }
    }
    const aqi = hasPollutant ? hourlyAqiAt(hourly, dev.id, c.ts) : undefined
    if (!aqi) return undefined
    values.aqi = aqi.aqi
    return aqi.dominant
  }

  // The points exist only inside this call (the store turns them into its own form at once), so
  // the handler's frame does not keep them alive until they are durable.
  function writeReadings(dev: Device, accepted: readonly Reading[]): Promise<void> {
    return deps.store.write(accepted.map((r) => readingPoint(dev, r)))
  }

  const telemetry: DevicePublishHandler = (msg) => {
    telemetryMessages.inc()
    const wait = gate.enter()
    return wait === undefined ? handleTelemetry(msg) : wait.then(() => handleTelemetry(msg))
  }

  /** Runs with a place at the gate (taken by `telemetry`) and gives it back when done. */
  const handleTelemetry = async (msg: DevicePublish): Promise<void> => {
    try {
      const accepted = acceptReadings(msg)
      if (accepted.length === 0) return
      try {
        await writeReadings(msg.device, accepted)
      } catch (err) {
        if (!refusedForGood(msg, accepted, err)) throw err
        return
      }
      announce(msg.device, accepted)
    } finally {
      gate.leave()
    }
  }

  /**
   * Step 1: the message's readings that may be stored, each as the bus will carry it (one object
   * per reading, also the source of its point). Everything refused is counted and recorded.
   */
  function acceptReadings(msg: DevicePublish): Reading[] {
    const dev = msg.device
    const accepted: Reading[] = []
    try {
      const parsed = parseTelemetry(decode(msg), msg.receivedAt)
      for (const r of parsed.refusals) refuse(msg, r.reason, r.message)
      const t = now()
      // Duplicates inside one message: only an array can hold them.
      const inMessage = parsed.readings.length > 1 ? new SeqTsSet() : undefined
      // Per-device state looked up once per message, not per reading.
      const recent = seen.of(dev.id)
      const lastBefore = lastTs.get(dev.id)
      let last = lastBefore
      // Untimed readings of this message by seq, so the same reading twice in one array is still
      // one reading (a duplicate), not two stamped apart.
      let stampOfSeq: Map<number, number> | undefined
      for (const c of parsed.readings) {
        if (c.stamped) {
          // A time of its own, later than every reading of the device accepted so far: readings
          // without ts never share a point identity (docs/mqtt.md, "A reading without a time").
          const again = c.seq === null ? undefined : stampOfSeq?.get(c.seq)
          if (again !== undefined) c.ts = again
          else {
            if (last !== undefined && c.ts <= last) c.ts = last + 1
            if (c.seq !== null && parsed.readings.length > 1) (stampOfSeq ??= new Map()).set(c.seq, c.ts)
          }
        }
        try {
          checkReading(c, dev.kind, t, limits)
        } catch (err) {
          if (!(err instanceof Refused)) throw err
          refuse(msg, err.reason, err.message)
          continue
        }
        if (recent?.has(c.seq, c.ts) === true || (inMessage !== undefined && !inMessage.add(c.seq, c.ts))) {
          m.duplicates.inc()
          continue
        }
        const late = msg.receivedAt - c.ts > lateAfterMs || (last !== undefined && c.ts < last)
        if (last === undefined || c.ts > last) last = c.ts
        const dominant = derive(dev, c)
        const reading: Reading = { device: dev.id, kind: dev.kind, station: dev.station, district: dev.district, ts: c.ts, seq: c.seq, values: c.values, late }
        if (dominant !== undefined) reading.aqi_dominant = dominant
        accepted.push(reading)
      }
      if (last !== lastBefore) lastTs.set(dev.id, last!)
    } catch (err) {
      if (err instanceof Refused) refuse(msg, err.reason, err.message)
      else {
        log.error({ err, device: dev.id }, 'telemetry handling failed')
        refuse(msg, 'internal', 'the gateway could not handle this message; see the gateway log')
      }
      return []
    }
    return accepted
  }

  /**
   * Step 2, when the store failed: true when resending can never succeed (the message is refused
   * and acknowledged); false for a transient failure (not acknowledged: the device resends).
   */
  function refusedForGood(msg: DevicePublish, accepted: readonly Reading[], err: unknown): boolean {
    const dev = msg.device
    if (err instanceof StoreError && err.code === 'invalid') {
      // Checks should make this impossible; if not, resending can never succeed.
      log.error({ err, device: dev.id }, 'store refused checked points')
      refuse(msg, 'internal', `the store refused these readings: ${err.message}`)
      return true
    }
    m.storeFailures.inc()
    // The device sends these again: take their concentrations back out of the hourly means so
    // the resend does not count them twice.
    for (const r of accepted) {
      for (const p of AQI_POLLUTANTS) {
        const v = r.values[p]
        if (v !== undefined) hourly.remove(dev.id, p, hourStartOf(r.ts), v)
      }
    }
    log.warn({ err, device: dev.id, readings: accepted.length }, 'store write failed; message not acknowledged')
    return false
  }

  /** Step 3, once durable: remembered for de-duplication and announced on the bus. */
  function announce(dev: Device, accepted: readonly Reading[]): void {
    readingsStored.inc(accepted.length)
    for (const reading of accepted) {
      seen.add(dev.id, reading.seq, reading.ts)
      if (reading.late) lateReadings.inc()
      try {
        deps.bus.emit('reading', reading)
      } catch (err) {
        // A consumer's bug must not undo a durable write nor the acknowledgement.
        log.error({ err, device: dev.id }, 'reading consumer failed')
      }
    }
  }

  const status: DevicePublishHandler = async (msg) => {
    m.messages.inc({ topic: 'status' })
    let ev: { device: string; online: boolean; ts: number; fw?: string; uptime?: number; queue_dropped?: number; queue_depth?: number }
    try {
      const doc = decode(msg)
      if (!checkStatus.Check(doc)) {
        const e = [...checkStatus.Errors(doc)].find((x) => x.keyword !== 'boolean')
        throw new Refused('invalid_payload', `payload${e?.instancePath ?? ''} ${e?.message ?? 'is not a status'}: a status is {"online": true|false, "ts", "fw"?, "uptime"?}`)
      }
      const s = doc as DeviceStatus
      const ts = s.ts === undefined ? msg.receivedAt : parseTs(s.ts, 'payload/ts')
      ev = { device: msg.device.id, online: s.online, ts }
      if (s.fw !== undefined) ev.fw = s.fw
      if (s.uptime !== undefined && Number.isFinite(s.uptime)) ev.uptime = s.uptime
      if (s.queue_dropped !== undefined) ev.queue_dropped = s.queue_dropped
      if (s.queue_depth !== undefined) ev.queue_depth = s.queue_depth
    } catch (err) {
      if (err instanceof Refused) refuse(msg, err.reason, err.message)
      else {
        log.error({ err, device: msg.device.id }, 'status handling failed')
        refuse(msg, 'internal', 'the gateway could not handle this message; see the gateway log')
      }
      return
    }
    await deps.store.write([statusPoint(msg.device, ev)])
    try {
      deps.bus.emit('device-status', { device: ev.device, online: ev.online, ts: ev.ts, fw: ev.fw, uptime: ev.uptime })
    } catch (err) {
      log.error({ err, device: ev.device }, 'device-status consumer failed')
    }
  }

  return {
    telemetry,
    status,
    recentRejects: (id) => rejects.recent(id),
    recordRefusal: record,
    hourly,
    async warmUp(source) {
      const started = performance.now()
      const r = await warmUp(source, { hourly, rise }, stations, now())
      log.info({ ...r, ms: Math.round(performance.now() - started) }, 'derived-value state rebuilt from the store')
      return r
    },
  }
}
