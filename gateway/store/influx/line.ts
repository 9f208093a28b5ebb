import { INTEGER_FIELDS } from '../types.ts'
import type { NormalPoint } from '../points.ts'

// InfluxDB 1.x line protocol, written here rather than through the influx package's escaper: that
// escaper also rewrites `\'` sequences (meant for InfluxQL literals), which would change tag
// values, and a pre-serialised line is what the disk spool keeps, so it is built exactly once.
// Rules: https://docs.influxdata.com/influxdb/v1.6/write_protocols/line_protocol_reference/

const MEASUREMENT_SPECIAL = /[, \\]/
const KEY_SPECIAL = /[,= \\]/
const escMeasurement = (s: string): string => (MEASUREMENT_SPECIAL.test(s) ? s.replace(/[, \\]/g, '\\$&') : s)
// Keys and tag values come from a small set (field names, device ids, stations), so each is
// escaped once and remembered; bounded so odd input cannot grow it without end.
const escaped = new Map<string, string>()
const escKey = (s: string): string => {
  let e = escaped.get(s)
  if (e === undefined) {
    e = KEY_SPECIAL.test(s) ? s.replace(/[,= \\]/g, '\\$&') : s
    if (escaped.size < 50_000) escaped.set(s, e)
  }
  return e
}
const escString = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`

// `measurement,tag=value,...` of shared (frozen) tags, built once per series.
const seriesPrefix = new WeakMap<object, { measurement: string; prefix: string }>()

function seriesOf(p: NormalPoint): string {
  const known = seriesPrefix.get(p.tags)
  if (known && known.measurement === p.measurement) return known.prefix
  const parts: string[] = [escMeasurement(p.measurement)]
  for (const [k, v] of p.tags) parts.push(',', escKey(k), '=', escKey(v))
  const prefix = parts.join('')
  if (Object.isFrozen(p.tags)) seriesPrefix.set(p.tags, { measurement: p.measurement, prefix })
  return prefix
}

/**
 * One point as one line, timestamp in ms (write with precision=ms). Built with join rather than
 * `+=`: each `+=` leaves a cons-string node, and a batch of lines waiting for InfluxDB kept a tree
 * of them per line alive long enough to be promoted out of the young generation.
 */
export function toLine(p: NormalPoint): string {
  const parts: string[] = [seriesOf(p)]
  const ints = INTEGER_FIELDS[p.measurement]
  let sep = ' '
  for (const [k, v] of p.fields) {
    let val: string
    if (typeof v === 'number') val = ints?.has(k) ? `${v}i` : numberLiteral(v)
    else if (typeof v === 'string') val = escString(v)
    else val = v ? 'true' : 'false'
    parts.push(sep, escKey(k), '=', val)
    sep = ','
  }
  parts.push(' ', String(p.ts))
  return parts.join('')
}

// A float literal: whole values parse as floats and exponent forms (1e-7) are accepted.
const numberLiteral = (v: number): string => String(v)

/** InfluxQL string literal. */
export const lit = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
/** InfluxQL identifier. */
export const ident = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
