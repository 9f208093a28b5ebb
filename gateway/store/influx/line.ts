import { INTEGER_FIELDS } from '../types.ts'
import type { NormalPoint } from '../points.ts'

// InfluxDB 1.x line protocol, written here rather than through the influx package's escaper: that
// escaper also rewrites `\'` sequences (meant for InfluxQL literals), which would change tag
// values, and a pre-serialised line is what the disk spool keeps, so it is built exactly once.
// Rules: https://docs.influxdata.com/influxdb/v1.6/write_protocols/line_protocol_reference/

const MEASUREMENT_SPECIAL = /[, \\]/
const KEY_SPECIAL = /[,= \\]/
const escMeasurement = (s: string): string => (MEASUREMENT_SPECIAL.test(s) ? s.replace(/[, \\]/g, '\\$&') : s)
const escKey = (s: string): string => (KEY_SPECIAL.test(s) ? s.replace(/[,= \\]/g, '\\$&') : s)
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

// Per measurement and field: the escaped `key=` and whether the value is an integer. Field names
// are a small, fixed set in practice; bounded so odd input cannot grow it without end.
interface FieldKey {
  eq: string
  int: boolean
}
const fieldKeys = new Map<string, Map<string, FieldKey>>()
let fieldKeyCount = 0

function fieldKeysOf(measurement: string): Map<string, FieldKey> {
  let keys = fieldKeys.get(measurement)
  if (keys === undefined) {
    keys = new Map()
    if (fieldKeyCount < 50_000) fieldKeys.set(measurement, keys)
  }
  return keys
}

function fieldKey(keys: Map<string, FieldKey>, measurement: string, field: string): FieldKey {
  let key = keys.get(field)
  if (key === undefined) {
    key = { eq: `${escKey(field)}=`, int: INTEGER_FIELDS[measurement]?.has(field) === true }
    if (fieldKeyCount < 50_000) {
      keys.set(field, key)
      fieldKeyCount++
    }
  }
  return key
}

/**
 * One point as one line, timestamp in ms (write with precision=ms). Lines are copied into a
 * LineBuffer as they are made, so the string (a chain of concatenations) dies young.
 */
export function toLine(p: NormalPoint): string {
  const keys = fieldKeysOf(p.measurement)
  let line = seriesOf(p)
  let sep = ' '
  for (const k in p.fields) {
    const v = p.fields[k]!
    const key = fieldKey(keys, p.measurement, k)
    // A float literal is JavaScript's own number text: whole values parse as floats and exponent
    // forms (1e-7) are accepted.
    const literal = typeof v === 'number' ? (key.int ? `${v}i` : String(v)) : typeof v === 'string' ? escString(v) : v ? 'true' : 'false'
    line += sep + key.eq + literal
    sep = ','
  }
  return `${line} ${p.ts}`
}

/**
 * Lines joined by \n in one growing buffer: the batch being filled is the body of one write request
 * (or one spool record) as it stands, with no strings kept and nothing joined or copied again.
 */
export class LineBuffer {
  private buf: Buffer
  private used = 0
  /** Lines held. */
  lines = 0

  constructor(private capacity = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(capacity)
  }

  push(line: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const need = this.used + 1 + line.length * 3
    if (need > this.buf.length) this.grow(need)
    if (this.lines > 0) this.buf[this.used++] = 0x0a
    this.used += this.buf.write(line, this.used)
    this.lines++
  }

  /** The lines so far, as one body; the buffer starts empty again (sized for a batch like this one). */
  take(): Buffer {
    const body = this.buf.subarray(0, this.used)
    this.capacity = Math.max(this.capacity, this.used + (this.used >> 2))
    this.buf = Buffer.allocUnsafe(this.capacity)
    this.used = 0
    this.lines = 0
    return body
  }

  private grow(need: number): void {
    const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2))
    this.buf.copy(next, 0, 0, this.used)
    this.buf = next
  }
}

/** A write's lines, with each line's series and time (what decides which requests may fly together). */
export interface Lines {
  text: string[]
  series: string[]
  ts: number[]
}

export function linesOf(points: readonly NormalPoint[]): Lines {
  const n = points.length
  const lines: Lines = { text: new Array<string>(n), series: new Array<string>(n), ts: new Array<number>(n) }
  for (let i = 0; i < n; i++) {
    const p = points[i]!
    lines.text[i] = toLine(p)
    lines.series[i] = seriesOf(p)
    lines.ts[i] = p.ts
  }
  return lines
}

/** Lines as one body (a write too large for one batch, a write while spooling). */
export function joinLines(lines: readonly string[]): Buffer {
  return Buffer.from(lines.join('\n'))
}

/** InfluxQL string literal. */
export const lit = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
/** InfluxQL identifier. */
export const ident = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
