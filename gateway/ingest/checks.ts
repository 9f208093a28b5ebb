import { DERIVED_METRICS, isMetricName, METRICS, METRICS_BY_KIND } from '../protocol/index.ts'
import type { DeviceKind } from '../registry/types.ts'
import { pathOf, type Candidate } from './parse.ts'
import { Refused } from './reasons.ts'

export interface CheckLimits {
  /** A reading may be at most this far ahead of the gateway clock (device clock drift). */
  maxFutureMs: number
  /** Older readings are refused: past any edge queue's age bound, they can only be a bad clock. */
  maxAgeMs: number
}

/** Throws Refused for the first problem of a candidate reading from a device of `kind`. */
export function checkReading(
  c: Pick<Candidate, 'ts' | 'seq' | 'values' | 'index'>,
  kind: DeviceKind,
  now: number,
  limits: CheckLimits,
): void {
  // Paths for messages are built only when a check fails: this runs for every reading.
  if (c.ts > now + limits.maxFutureMs) {
    throw new Refused(
      'ts_future',
      `${pathOf(c.index)}/ts ${new Date(c.ts).toISOString()} is ${Math.round((c.ts - now) / 1000)} s ahead of the gateway clock (at most ${limits.maxFutureMs / 1000} s): check the device clock (NTP)`,
    )
  }
  if (c.ts < now - limits.maxAgeMs) {
    throw new Refused(
      'ts_too_old',
      `${pathOf(c.index)}/ts ${new Date(c.ts).toISOString()} is older than ${Math.round(limits.maxAgeMs / 86_400_000)} days: check the device clock`,
    )
  }
  const allowed = METRICS_BY_KIND[kind]
  const values = c.values
  for (const name in values) {
    const v = values[name]
    if (Object.prototype.hasOwnProperty.call(DERIVED_METRICS, name)) {
      throw new Refused('derived_metric', `${pathOf(c.index)}/values/${name}: ${name} is derived by the gateway; do not send it`)
    }
    if (!isMetricName(name)) {
      throw new Refused('unknown_metric', `${pathOf(c.index)}/values/${name}: unknown metric; known: ${[...allowed].join(', ')}`)
    }
    if (!allowed.has(name)) {
      throw new Refused(
        'metric_not_for_kind',
        `${pathOf(c.index)}/values/${name}: a ${kind} device does not report ${name}; it may send ${[...allowed].join(', ')}`,
      )
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new Refused('not_finite', `${pathOf(c.index)}/values/${name} must be a finite number`)
    }
    const spec = METRICS[name]
    if (v < spec.min || v > spec.max) {
      throw new Refused(
        'out_of_range',
        `${pathOf(c.index)}/values/${name} ${v} ${spec.unit} is outside the plausible range ${spec.min} to ${spec.max} ${spec.unit}`,
      )
    }
  }
  if ('rainfall' in values && !('interval_s' in values)) {
    throw new Refused('missing_interval', `${pathOf(c.index)}/values/interval_s is required with rainfall (mm over how many seconds)`)
  }
}
