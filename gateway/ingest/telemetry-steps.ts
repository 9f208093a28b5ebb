// The telemetry route's steps: a message's readings parsed, checked and enriched
// (acceptReadings), written to the store (writeReadings), and only once durable remembered and
// announced on the bus (announce); a store failure decides between refusing for good and letting
// the device resend (refusedForGood).
import type { DevicePublish } from '../broker/types.ts'
import type { Reading } from '../bus/events.ts'
import { METRICS_BY_KIND } from '../protocol/index.ts'
import type { Device, DeviceKind } from '../registry/types.ts'
import { StoreError } from '../store/types.ts'
import { hourStartOf, hourlyAqiAt } from './aqi-state.ts'
import { checkReading } from './checks.ts'
import { decode, refuse, type IngestState } from './ingest-state.ts'
import { SeqTsSet } from '../util/lru.ts'
import { parseTelemetry, type Candidate } from './parse.ts'
import { derivedPoint, readingPoint, type IngestPoint } from './points.ts'
import { Refused } from './reasons.ts'
import { AQI_POLLUTANTS } from '../domain/vn-aqi.ts'

/** Kinds whose readings may carry a VN_AQI pollutant (checks refuse the others' pollutants). */
const REPORTS_POLLUTANTS = Object.fromEntries(
  Object.entries(METRICS_BY_KIND).map(([kind, metrics]) => [kind, AQI_POLLUTANTS.some((p) => metrics.has(p))]),
) as Record<DeviceKind, boolean>

/** The telemetry route: one place at the gate (maxConcurrentMessages), then handleTelemetry. */
export function telemetryArrived(ing: IngestState, msg: DevicePublish): Promise<void> {
  ing.telemetryMessages.inc()
  const wait = ing.gate.enter()
  return wait === undefined ? handleTelemetry(ing, msg) : wait.then(() => handleTelemetry(ing, msg))
}

/** Runs with a place at the gate (taken by `telemetryArrived`) and gives it back when done. */
async function handleTelemetry(ing: IngestState, msg: DevicePublish): Promise<void> {
  try {
    const accepted = acceptReadings(ing, msg)
    if (accepted.length === 0) return
    try {
      await writeReadings(ing, msg.device, accepted)
    } catch (err) {
      if (!refusedForGood(ing, msg, accepted, err)) throw err
      return
    }
    announce(ing, msg.device, accepted)
  } finally {
    ing.gate.leave()
  }
}

/**
 * Step 1: the message's readings that may be stored, each as the bus will carry it (one object
 * per reading, also the source of its point). Everything refused is counted and recorded.
 */
export function acceptReadings(ing: IngestState, msg: DevicePublish): Reading[] {
  const dev = msg.device
  const accepted: Reading[] = []
  try {
    const parsed = parseTelemetry(decode(ing, msg), msg.receivedAt)
    for (const r of parsed.refusals) refuse(ing, msg, r.reason, r.message)
    const t = ing.now()
    // Duplicates inside one message: only an array can hold them.
    const inMessage = parsed.readings.length > 1 ? new SeqTsSet() : undefined
    // Per-device state looked up once per message, not per reading.
    const recent = ing.seen.of(dev.id)
    const lastBefore = ing.lastTs.get(dev.id)
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
        checkReading(c, dev.kind, t, ing.limits)
      } catch (err) {
        if (!(err instanceof Refused)) throw err
        refuse(ing, msg, err.reason, err.message)
        continue
      }
      if (recent?.has(c.seq, c.ts) === true || (inMessage !== undefined && !inMessage.add(c.seq, c.ts))) {
        ing.m.duplicates.inc()
        continue
      }
      const late = msg.receivedAt - c.ts > ing.lateAfterMs || (last !== undefined && c.ts < last)
      if (last === undefined || c.ts > last) last = c.ts
      const dominant = derive(ing, dev, c)
      const reading: Reading = {
        device: dev.id,
        kind: dev.kind,
        station: dev.station,
        district: dev.district,
        ts: c.ts,
        seq: c.seq,
        values: c.values,
        late,
      }
      if (dominant !== undefined) reading.aqi_dominant = dominant
      accepted.push(reading)
    }
    if (last !== lastBefore) ing.lastTs.set(dev.id, last!)
  } catch (err) {
    if (err instanceof Refused) refuse(ing, msg, err.reason, err.message)
    else {
      ing.log.error({ err, device: dev.id }, 'telemetry handling failed')
      refuse(ing, msg, 'internal', 'the gateway could not handle this message; see the gateway log')
    }
    return []
  }
  return accepted
}

/**
 * Step 2, when the store failed: true when resending can never succeed (the message is refused
 * and acknowledged); false for a transient failure (not acknowledged: the device resends).
 */
export function refusedForGood(ing: IngestState, msg: DevicePublish, accepted: readonly Reading[], err: unknown): boolean {
  const dev = msg.device
  if (err instanceof StoreError && err.code === 'invalid') {
    // Checks should make this impossible; if not, resending can never succeed.
    ing.log.error({ err, device: dev.id }, 'store refused checked points')
    refuse(ing, msg, 'internal', `the store refused these readings: ${err.message}`)
    return true
  }
  ing.m.storeFailures.inc()
  // The `derived` points of this write may not be stored: the next reading writes one afresh.
  ing.derived.forget(dev.id)
  // The device sends these again: take their concentrations back out of the hourly means so
  // the resend does not count them twice.
  for (const r of accepted) {
    for (const p of AQI_POLLUTANTS) {
      const v = r.values[p]
      if (v !== undefined) ing.hourly.remove(dev.id, p, hourStartOf(r.ts), v)
    }
  }
  ing.log.warn({ err, device: dev.id, readings: accepted.length }, 'store write failed; message not acknowledged')
  return false
}

/** Step 3, once durable: remembered for de-duplication and announced on the bus. */
export function announce(ing: IngestState, dev: Device, accepted: readonly Reading[]): void {
  ing.readingsStored.inc(accepted.length)
  for (const reading of accepted) {
    ing.seen.add(dev.id, reading.seq, reading.ts)
    if (reading.late) ing.lateReadings.inc()
    try {
      ing.deps.bus.emit('reading', reading)
    } catch (err) {
      // A consumer's bug must not undo a durable write nor the acknowledgement.
      ing.log.error({ err, device: dev.id }, 'reading consumer failed')
    }
  }
}

/**
 * Adds the derived numbers (alarm_level, rise_rate, aqi) to the reading's own values, which the
 * point and the bus then share without copying; returns the dominant pollutant, if any.
 */
export function derive(ing: IngestState, dev: Device, c: Candidate): string | undefined {
  const values = c.values
  const level = values.water_level
  if (level !== undefined) {
    const alarm = ing.stations.alarmLevel(dev.station, level)
    if (alarm !== undefined) values.alarm_level = alarm
    const rate = ing.rise.add(dev.id, c.ts, level, ing.stations.riseWindowMs(dev.station))
    if (rate !== undefined) values.rise_rate = rate
  }
  if (!REPORTS_POLLUTANTS[dev.kind]) return undefined
  let hasPollutant = false
  for (const p of AQI_POLLUTANTS) {
    const v = values[p]
    if (v !== undefined) {
      ing.hourly.add(dev.id, p, hourStartOf(c.ts), v)
      hasPollutant = true
    }
  }
  const aqi = hasPollutant ? hourlyAqiAt(ing.hourly, dev.id, c.ts) : undefined
  if (!aqi) return undefined
  values.aqi = aqi.aqi
  return aqi.dominant
}

// The points exist only inside this call (the store turns them into its own form at once), so
// the handler's frame does not keep them alive until they are durable.
export function writeReadings(ing: IngestState, dev: Device, accepted: readonly Reading[]): Promise<void> {
  const points: IngestPoint[] = []
  for (const r of accepted) {
    points.push(readingPoint(dev, r))
    const derived = ing.derived.pointFor(r)
    if (derived !== undefined) points.push(derivedPoint(dev, r, derived))
  }
  return ing.deps.store.write(points)
}
