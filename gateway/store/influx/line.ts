import { INTEGER_FIELDS } from '../types.ts'
import type { NormalPoint } from '../points.ts'

// InfluxDB 1.x line protocol, written here rather than through the influx package's escaper: that
// escaper also rewrites `\'` sequences (meant for InfluxQL literals), which would change tag
// values, and a pre-serialised line is what the disk spool keeps, so it is built exactly once.

const MEASUREMENT_SPECIAL = /[, \\]/
const KEY_SPECIAL = /[,= \\]/
export const escMeasurement = (s: string): string => (MEASUREMENT_SPECIAL.test(s) ? s.replace(/[, \\]/g, '\\$&') : s)
const escKey = (s: string): string => (KEY_SPECIAL.test(s) ? s.replace(/[,= \\]/g, '\\$&') : s)
const escString = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`

// `measurement,tag=value,...` of shared (frozen) tags, made once per series: as text (the series'
// name, see series-ranges.ts) and as the bytes that start each of its lines.
interface Series {
  measurement: string
  name: string
  bytes: Buffer
}
const seriesOfTags = new WeakMap<object, Series>()

function seriesEntry(p: NormalPoint): Series {
  const known = seriesOfTags.get(p.tags)
  if (known && known.measurement === p.measurement) return known
  const parts: string[] = [escMeasurement(p.measurement)]
  for (const [k, v] of p.tags) parts.push(',', escKey(k), '=', escKey(v))
  const name = parts.join('')
  const series = { measurement: p.measurement, name, bytes: Buffer.from(name) }
  if (Object.isFrozen(p.tags)) seriesOfTags.set(p.tags, series)
  return series
}

// Per measurement and field: the escaped `key=` as bytes and whether the value is an integer.
// Field names are a small, fixed set in practice; bounded so odd input cannot grow it without end.
interface FieldKey {
  eq: Buffer
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
    key = { eq: Buffer.from(`${escKey(field)}=`), int: INTEGER_FIELDS[measurement]?.has(field) === true }
    if (fieldKeyCount < 50_000) {
      keys.set(field, key)
      fieldKeyCount++
    }
  }
  return key
}

const NL = 0x0a
const SPACE = 0x20
const COMMA = 0x2c
const MINUS = 0x2d
const ZERO = 0x30
const I = 0x69
const DOT = 0x2e
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6]
const TRUE = Buffer.from('true')
const FALSE = Buffer.from('false')
/** Whole numbers below this are written digit by digit (String() gives the same text for them). */
const PLAIN_INT = 1e15
/** Room for a number's text (`-1.2345678901234567e-308`, `-123456789012345678901`) and a suffix. */
const NUMBER_ROOM = 26

/**
 * Lines joined by \n in one growing buffer, each point written straight in as bytes: the batch
 * being filled is the body of one write request (or one spool record) as it stands, with no
 * string made per line and nothing joined or copied again. Written by hand because the text of
 * a line is built once per reading at full rate: strings per line, then their UTF-8 copies, cost
 * the gateway a tenth of its thread.
 * Rules: https://docs.influxdata.com/influxdb/v1.6/write_protocols/line_protocol_reference/
 */
export class LineBuffer {
  private buf: Buffer
  private used = 0
  /** Lines held. */
  lines = 0

  private readonly minCapacity: number

  constructor(private capacity = 64 * 1024) {
    this.minCapacity = capacity
    this.buf = Buffer.allocUnsafe(capacity)
  }

  /** Bytes of the buffer the next lines go into. */
  get allocated(): number {
    return this.buf.length
  }

  /** One point as one line, timestamp in ms (write with precision=ms); returns the line's series. */
  push(p: NormalPoint): string {
    const series = seriesEntry(p)
    const keys = fieldKeysOf(p.measurement)
    this.room(1 + series.bytes.length)
    if (this.lines > 0) this.buf[this.used++] = NL
    this.bytes(series.bytes)
    let sep = SPACE
    for (const k in p.fields) {
      const v = p.fields[k]!
      const key = fieldKey(keys, p.measurement, k)
      this.room(1 + key.eq.length + NUMBER_ROOM)
      this.buf[this.used++] = sep
      sep = COMMA
      this.bytes(key.eq)
      if (typeof v === 'number') {
        // JavaScript's own number text (ASCII); a float literal may be whole (parsed as a float)
        // or in exponent form (1e-7). Integer fields are whole already (normalizePoints).
        if (Number.isInteger(v) && v < PLAIN_INT && v > -PLAIN_INT) this.integer(v)
        else if (!this.decimal(v)) this.ascii(String(v))
        if (key.int) this.buf[this.used++] = I
      } else if (typeof v === 'string') {
        const s = escString(v)
        this.room(s.length * 3)
        this.used += this.buf.write(s, this.used)
      } else this.bytes(v ? TRUE : FALSE)
    }
    this.room(1 + NUMBER_ROOM)
    this.buf[this.used++] = SPACE
    this.integer(p.ts)
    this.lines++
    return series.name
  }

  /** Lines `from` (inclusive) to `to` (exclusive) of lines made apart (see encodeLines). */
  pushLines(lines: EncodedLines, from: number, to: number): void {
    if (from >= to) return
    const body = linesBody(lines, from, to)
    this.room(1 + body.length)
    if (this.lines > 0) this.buf[this.used++] = NL
    this.used += body.copy(this.buf, this.used)
    this.lines += to - from
  }

  /**
   * The lines so far, as one body; the buffer starts empty again, sized for a batch like this one:
   * at once as large as a larger batch needs (no copies while a burst fills it), and a quarter
   * smaller at each take while batches stay smaller, down to the first size, so that once the load
   * ends the writer stops allocating buffers sized for its peak (docs/operations.md, Memory).
   */
  take(): Buffer {
    const body = this.buf.subarray(0, this.used)
    this.capacity = Math.max(this.minCapacity, this.used + (this.used >> 2), this.capacity - (this.capacity >> 2))
    this.buf = Buffer.allocUnsafe(this.capacity)
    this.used = 0
    this.lines = 0
    return body
  }

  /** Bytes written so far (the end of the last line). */
  get size(): number {
    return this.used
  }

  private room(n: number): void {
    if (this.used + n <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.used + n, this.buf.length * 2))
    this.buf.copy(next, 0, 0, this.used)
    this.buf = next
  }

  // Short copies in a loop: TypedArray#set costs more than the copy itself below a few dozen bytes.
  private bytes(src: Buffer): void {
    const buf = this.buf
    let at = this.used
    if (src.length > 48) at += src.copy(buf, at)
    else for (let i = 0; i < src.length; i++) buf[at++] = src[i]!
    this.used = at
  }

  private ascii(s: string): void {
    const buf = this.buf
    let at = this.used
    for (let i = 0; i < s.length; i++) buf[at++] = s.charCodeAt(i)
    this.used = at
  }

  /**
   * v as String(v) writes it, when v has at most six decimals and is from 10^-6 to 10^9 in
   * magnitude (sensor values, almost always); false, with nothing written, otherwise. Then the
   * decimal m / 10^k with the fewest decimals k that gives back v is the one String(v) writes:
   * with under 15 significant digits, no other decimal of as few digits gives v (DBL_DIG), and
   * both write fixed notation in this range. String() costs ~70 ns a number, most of a line.
   */
  private decimal(v: number): boolean {
    const a = v < 0 ? -v : v
    if (!(a >= 1e-6 && a < 1e9)) return false
    for (let k = 1; k <= 6; k++) {
      const p = POW10[k]!
      const m = Math.round(a * p)
      if (m / p !== a) continue
      if (v < 0) this.buf[this.used++] = MINUS
      const whole = Math.floor(m / p)
      this.integer(whole)
      this.buf[this.used++] = DOT
      this.used = this.padded(m - whole * p, this.used, k)
      return true
    }
    return false
  }

  /** 0 <= v < 10^width (whole), zero-padded to `width` digits from `at`; returns the end. */
  private padded(v: number, at: number, width: number): number {
    const buf = this.buf
    for (let i = at + width - 1; i >= at; i--) {
      const q = Math.floor(v / 10)
      buf[i] = ZERO + (v - q * 10)
      v = q
    }
    return at + width
  }

  /** A whole number below PLAIN_INT in magnitude, in decimal, without making its string. */
  private integer(v: number): void {
    const buf = this.buf
    let at = this.used
    if (v < 0) {
      buf[at++] = MINUS
      v = -v
    }
    let digits = 1
    for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++
    this.used = this.padded(v, at, digits)
  }
}

/**
 * Lines made apart from a batch (a write that must wait for room, go to the spool, or be split
 * because it is larger than a batch): their bytes, where each line ends, and each line's series
 * and time (what decides which requests may fly together).
 */
export interface EncodedLines {
  body: Buffer
  /** Offset just past each line (the \n between lines is not part of either). */
  ends: number[]
  series: string[]
  ts: number[]
}

export function encodeLines(points: readonly NormalPoint[]): EncodedLines {
  const n = points.length
  const buf = new LineBuffer(Math.max(256, n * 160))
  const ends = new Array<number>(n)
  const series = new Array<string>(n)
  const ts = new Array<number>(n)
  for (let i = 0; i < n; i++) {
    series[i] = buf.push(points[i]!)
    ends[i] = buf.size
    ts[i] = points[i]!.ts
  }
  return { body: buf.take(), ends, series, ts }
}

/** The bytes of lines `from` (inclusive) to `to` (exclusive), joined by \n. */
export function linesBody(lines: EncodedLines, from: number, to: number): Buffer {
  return lines.body.subarray(from === 0 ? 0 : lines.ends[from - 1]! + 1, lines.ends[to - 1]!)
}

/** InfluxQL string literal. */
export const lit = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
/** InfluxQL identifier. */
export const ident = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`

/**
 * A series name as `LineBuffer` writes it (`measurement,key=value,...`, a backslash before each
 * special character) back to its measurement and tags, to query the series it names.
 */
export function parseSeries(name: string): { measurement: string; tags: Array<[string, string]> } {
  let measurement: string | undefined
  const tags: Array<[string, string]> = []
  let key: string | null = null
  let cur = ''
  const end = (): void => {
    if (measurement === undefined) measurement = cur
    else tags.push([key ?? cur, key === null ? '' : cur])
    key = null
    cur = ''
  }
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!
    if (c === '\\' && i + 1 < name.length) cur += name[++i]
    else if (c === ',') end()
    else if (c === '=' && measurement !== undefined && key === null) {
      key = cur
      cur = ''
    } else cur += c
  }
  end()
  return { measurement: measurement ?? '', tags }
}

/**
 * Each line's series name and time in a body of lines as `LineBuffer` writes them: the series
 * ends at the first space without a backslash before it, the time follows the last space.
 */
export function forEachLine(body: Buffer, fn: (series: string, ts: number) => void): void {
  let start = 0
  while (start < body.length) {
    let end = body.indexOf(NL, start)
    if (end < 0) end = body.length
    let sp = start
    while (sp < end && body[sp] !== SPACE) sp += body[sp] === 0x5c ? 2 : 1
    const last = body.lastIndexOf(SPACE, end - 1)
    if (sp < end && last > sp) fn(body.toString('utf8', start, sp), Number(body.toString('latin1', last + 1, end)))
    start = end + 1
  }
}
