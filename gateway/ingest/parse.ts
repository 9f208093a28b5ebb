import { Compile } from 'typebox/compile'
import { converterFor, isMetricName, MAX_READINGS_PER_MESSAGE, SenmlRecord, TelemetryReading } from '../protocol/index.ts'
import { Refused, type Refusal } from './reasons.ts'
import { parseTs } from './timestamps.ts'

// Telemetry payload → candidate readings, before the per-kind checks. Native JSON (one reading or
// an array) and SenML (RFC 8428 JSON). A broken element of a batch refuses that element only:
// a replay after an outage must not lose its good readings for one bad one.

export interface Candidate {
  /** Event time, epoch ms. */
  ts: number
  /**
   * The device gave no time: `ts` is the arrival time, which ingest makes strictly later than the
   * device's previous reading (docs/mqtt.md, "A reading without a time").
   */
  stamped: boolean
  seq: number | null
  /** Metric name → value, in canonical units (SenML already converted). */
  values: Record<string, number>
  /** Position in the message, for messages naming the element. */
  index: number | null
}

export interface Parsed {
  readings: Candidate[]
  refusals: readonly Refusal[]
}

const NO_REFUSALS: readonly Refusal[] = Object.freeze([])

const checkReading = Compile(TelemetryReading)
const checkSenml = Compile(SenmlRecord)

function schemaMessage(
  errors: Iterable<{ keyword: string; instancePath: string; message?: string; params: Record<string, unknown> }>,
  prefix: string,
): string {
  const all = [...errors].filter((e) => e.keyword !== 'boolean')
  const e = all[0]
  if (!e) return `${prefix} is not valid`
  const at = `${prefix}${e.instancePath}`
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params.additionalProperties as string[] | undefined)?.[0]
    return `${at}/${extra ?? '?'} is not an accepted field (a reading is {"ts", "seq", "values"})`
  }
  if (e.keyword === 'required') return `${at} is missing ${((e.params.requiredProperties as string[] | undefined) ?? []).join(', ')}`
  return `${at} ${e.message ?? 'is not valid'}`
}

// Paths for messages are built only when something is wrong (this runs for every reading).
export const pathOf = (index: number | null): string => (index === null ? 'payload' : `payload/${index}`)

/**
 * True only for readings the schema accepts, in the shape devices send (numeric ts, every value a
 * finite number), checked without allocating: the schema's compiled check lists a reading's keys
 * and values into new arrays (Object.entries, getOwnPropertyNames), ~7 % of everything the gateway
 * allocated at full rate. False says nothing; the schema then decides and explains. `item` is
 * JSON.parse output, so its keys are its own enumerable ones (test/ingest/parse.test.ts holds this
 * guard to the schema with generated input).
 */
export function isPlainReading(item: unknown): boolean {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return false
  const r = item as Record<string, unknown>
  for (const k in r) if (k !== 'ts' && k !== 'seq' && k !== 'values') return false
  const { ts, seq, values } = r
  if (ts !== undefined && (typeof ts !== 'number' || !Number.isFinite(ts))) return false
  if (seq !== undefined && (!Number.isSafeInteger(seq) || (seq as number) < 0)) return false
  if (typeof values !== 'object' || values === null || Array.isArray(values)) return false
  let n = 0
  for (const k in values) {
    const v = (values as Record<string, unknown>)[k]
    if (typeof v !== 'number' || !Number.isFinite(v) || ++n > 32) return false
  }
  return n > 0
}

function native(item: unknown, index: number | null, receivedAt: number): Candidate {
  if (!isPlainReading(item) && !checkReading.Check(item)) {
    const where = pathOf(index)
    // JSON.parse turns 1e999 into Infinity: name that rather than a type error.
    const values = (item as { values?: unknown } | null)?.values
    if (typeof values === 'object' && values !== null) {
      const bad = Object.entries(values).find(([, v]) => typeof v === 'number' && !Number.isFinite(v))
      if (bad) throw new Refused('not_finite', `${where}/values/${bad[0]} must be a finite number`)
    }
    throw new Refused('invalid_payload', schemaMessage(checkReading.Errors(item), where))
  }
  const r = item as TelemetryReading
  // Whole epoch milliseconds (the usual case) need none of parseTs's checks.
  const epochMs = typeof r.ts === 'number' && r.ts >= 1e11 && Number.isSafeInteger(r.ts)
  const ts = r.ts === undefined ? receivedAt : epochMs ? (r.ts as number) : parseTs(r.ts, `${pathOf(index)}/ts`)
  // The parsed document is this message's own: its values object is used as is, not copied.
  return { ts, stamped: r.ts === undefined, seq: r.seq ?? null, values: r.values, index }
}

// Names a SenML producer is likely to use for a canonical metric.
const SENML_ALIASES: Record<string, string> = {
  temp: 'temperature',
  hum: 'humidity',
  rh: 'humidity',
  level: 'water_level',
  waterlevel: 'water_level',
  rain: 'rainfall',
  'pm2.5': 'pm25',
  pm2_5: 'pm25',
  batt: 'battery',
  bat: 'battery',
  interval: 'interval_s',
}

function metricOfName(name: string): string {
  const last =
    name
      .split(/[:/]/)
      .filter((p) => p.length > 0)
      .pop() ?? name
  const lower = last.toLowerCase()
  return SENML_ALIASES[lower] ?? lower
}

// RFC 8428 §4.5.3: a time below 2**28 is relative to now.
const RELATIVE_TIME_LIMIT = 2 ** 28

function senml(pack: unknown[], receivedAt: number): Parsed {
  const refusals: Refusal[] = []
  const groups = new Map<number, Candidate>()
  // Records without any time (no bt, no t: "now", RFC 8428 §4.5.3), in pack order. They all share
  // the arrival time, so a record naming a metric (or seq) the current one already holds starts
  // the next reading instead of replacing its value; ingest then gives each its own time.
  const untimed: Candidate[] = []
  let bn = ''
  let bt = 0
  let bu: string | undefined
  let bv = 0
  for (let i = 0; i < pack.length; i++) {
    const rec = pack[i]
    const where = `payload/${i}`
    try {
      if (!checkSenml.Check(rec)) throw new Refused('invalid_payload', schemaMessage(checkSenml.Errors(rec), where))
      const r = rec as SenmlRecord
      const mustUnderstand = Object.keys(r).find((k) => k.endsWith('_'))
      if (mustUnderstand)
        throw new Refused(
          'senml_unsupported',
          `${where}/${mustUnderstand} is a must-understand SenML field this gateway does not support (RFC 8428 §4.4)`,
        )
      if (r.bver !== undefined && r.bver > 10)
        throw new Refused('senml_unsupported', `${where}/bver ${r.bver} is newer than SenML version 10 (RFC 8428)`)
      if (r.bn !== undefined) bn = r.bn
      if (r.bt !== undefined) bt = r.bt
      if (r.bu !== undefined) bu = r.bu
      if (r.bv !== undefined) bv = r.bv
      // A record holding only base fields is legal and names no measurement.
      if (r.n === undefined && r.v === undefined && r.s === undefined && r.vs === undefined && r.vb === undefined && r.vd === undefined)
        continue
      const name = bn + (r.n ?? '')
      if (name.length === 0) throw new Refused('invalid_payload', `${where} has no name (n or bn)`)
      let value: number
      if (r.v !== undefined) value = bv + r.v
      else if (r.s !== undefined) value = r.s
      else
        throw new Refused(
          'senml_unsupported',
          `${where} carries a string, boolean or data value; only numeric values (v or s) are readings`,
        )
      let t = bt + (r.t ?? 0)
      if (!Number.isFinite(t)) throw new Refused('ts_invalid', `${where}/t is not a finite time`)
      const metric = metricOfName(name)
      let g: Candidate | undefined
      if (t === 0) {
        g = untimed[untimed.length - 1]
        if (!g || (metric === 'seq' ? g.seq !== null : metric in g.values)) {
          g = { ts: receivedAt, stamped: true, seq: null, values: {}, index: i }
          untimed.push(g)
        }
      } else {
        if (t < RELATIVE_TIME_LIMIT) t = receivedAt / 1000 + t
        const ts = Math.round(t * 1000)
        g = groups.get(ts)
        if (!g) {
          g = { ts, stamped: false, seq: null, values: {}, index: i }
          groups.set(ts, g)
        }
      }
      if (metric === 'seq') {
        if (!Number.isSafeInteger(value) || value < 0)
          throw new Refused('invalid_payload', `${where}/v: seq must be a non-negative integer`)
        g.seq = value
        continue
      }
      const unit = r.u ?? bu
      if (isMetricName(metric)) {
        const conv = converterFor(metric, unit)
        if (!conv) throw new Refused('unit_mismatch', `${where}/u "${unit}" cannot be converted to ${metric}`)
        value = conv(value)
      }
      g.values[metric] = value
    } catch (err) {
      if (!(err instanceof Refused)) throw err
      refusals.push({ reason: err.reason, message: err.message })
    }
  }
  const readings = [...groups.values(), ...untimed].filter((g) => Object.keys(g.values).length > 0)
  if (readings.length === 0 && refusals.length === 0) {
    // Nothing to store and nothing wrong with a record on its own (only base fields, or only a
    // seq): still a message the device should hear about, never a silent drop.
    throw new Refused(
      'invalid_payload',
      'payload holds no measurement: a reading is {"ts", "seq", "values"}, a SenML record needs "n" and "v"',
    )
  }
  return { readings, refusals }
}

function looksLikeSenml(arr: unknown[]): boolean {
  const first = arr[0]
  return typeof first === 'object' && first !== null && !Array.isArray(first) && !('values' in first)
}

/** Parses a telemetry payload that is already JSON-decoded. */
export function parseTelemetry(doc: unknown, receivedAt: number): Parsed {
  if (Array.isArray(doc)) {
    if (doc.length === 0) throw new Refused('invalid_payload', 'payload is an empty array: send at least one reading')
    if (looksLikeSenml(doc)) {
      if (doc.length > MAX_READINGS_PER_MESSAGE * 8)
        throw new Refused(
          'too_many_readings',
          `payload holds ${doc.length} SenML records; at most ${MAX_READINGS_PER_MESSAGE * 8} per message`,
        )
      return senml(doc, receivedAt)
    }
    if (doc.length > MAX_READINGS_PER_MESSAGE)
      throw new Refused('too_many_readings', `payload holds ${doc.length} readings; at most ${MAX_READINGS_PER_MESSAGE} per message`)
    const readings: Candidate[] = []
    let refusals: Refusal[] | undefined
    for (let i = 0; i < doc.length; i++) {
      try {
        readings.push(native(doc[i], i, receivedAt))
      } catch (err) {
        if (!(err instanceof Refused)) throw err
        ;(refusals ??= []).push({ reason: err.reason, message: err.message })
      }
    }
    return { readings, refusals: refusals ?? NO_REFUSALS }
  }
  if (typeof doc !== 'object' || doc === null) {
    throw new Refused('invalid_payload', 'payload must be a JSON object {"ts", "seq", "values"}, an array of them, or a SenML pack')
  }
  return { readings: [native(doc, null, receivedAt)], refusals: NO_REFUSALS }
}

export { metricOfName }
