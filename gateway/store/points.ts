import { INTEGER_FIELDS, StoreError, type FieldValue, type Point, type QueriedPoint } from './types.ts'

// One normalisation for both stores, so they hold exactly the same thing: empty tags dropped,
// integer fields rounded, line breaks in strings turned into spaces (InfluxDB's line protocol
// cannot carry them), and anything else odd refused before a single point is written.

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
const MAX_STRING = 64 * 1024
const MAX_TAG = 256
// InfluxDB 1.x stores nanoseconds in int64: 1677-09-21 .. 2262-04-11.
const MIN_TS = -9_223_372_036_854
const MAX_TS = 9_223_372_036_854

export interface NormalPoint {
  measurement: string
  /** Sorted by key (InfluxDB's preferred order; also the series key order). Frozen when shared. */
  tags: ReadonlyArray<readonly [string, string]>
  /**
   * At least one field, every one valid and of its stored type. The writer's own object when it
   * needed no change (the usual case: no copy per point), else a normalised copy.
   */
  fields: Readonly<Record<string, FieldValue>>
  ts: number
}

/** A field seen for the first time by this store, with the type it will be stored as. */
export interface NewFieldType {
  measurement: string
  field: string
  type: FieldType
}

function bad(i: number, what: string): never {
  throw new StoreError('invalid', `point ${i}: ${what}`)
}

// Names seen valid before (measurements, tag and field keys are a small, fixed set in practice);
// bounded so odd input cannot grow it without end.
const validNames = new Set<string>()
function validName(k: string): boolean {
  if (validNames.has(k)) return true
  if (!NAME.test(k) || k === 'time') return false
  if (validNames.size < 10_000) validNames.add(k)
  return true
}
const hasLineBreak = (v: string): boolean => v.indexOf('\n') >= 0 || v.indexOf('\r') >= 0

/**
 * Normalised tags of frozen tags objects. A writer that sends many points with the same tags
 * (ingest: one frozen object per device record) has them checked and sorted once; freezing is
 * what makes reusing the result safe.
 */
const frozenTags = new WeakMap<object, ReadonlyArray<readonly [string, string]>>()

function normalizeTags(i: number, rawTags: Readonly<Record<string, string>>): ReadonlyArray<readonly [string, string]> {
  const known = frozenTags.get(rawTags)
  if (known) return known
  const tags: [string, string][] = []
  let sorted = true
  for (const k in rawTags) {
    if (!Object.prototype.hasOwnProperty.call(rawTags, k)) continue
    const v = rawTags[k] as unknown
    if (!validName(k)) bad(i, `tag key "${k}" must match ${NAME.source}`)
    if (v === undefined || v === null || v === '') continue // unknown: omitted (data-model rule)
    if (typeof v !== 'string') bad(i, `tag ${k} must be a string`)
    if (v.length > MAX_TAG) bad(i, `tag ${k} is longer than ${MAX_TAG}`)
    if (hasLineBreak(v)) bad(i, `tag ${k} holds a line break`)
    if (tags.length > 0 && tags[tags.length - 1]![0] > k) sorted = false
    tags.push([k, v])
  }
  if (!sorted) tags.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  if (Object.isFrozen(rawTags)) {
    const shared = Object.freeze(tags.map((t) => Object.freeze(t)))
    frozenTags.set(rawTags, shared)
    return shared
  }
  return tags
}

/**
 * Checks and normalises points for a store, in one pass: names, time, tags, and each field's value
 * against the type the store already holds for it (`types`), so a conflicting write is refused
 * whole, naming the field, before anything is acknowledged. Learns the types of new fields and
 * returns them. Fields are copied only when something in them must change (an integer field
 * rounded, a line break in a string, an empty value dropped): a reading's fields are used as they
 * are, which the caller allows by not changing them until the write settles.
 */
export function normalizePoints(points: readonly Point[], types: FieldTypes): { points: NormalPoint[]; fresh: readonly NewFieldType[] } {
  const out = new Array<NormalPoint>(points.length)
  let fresh: NewFieldType[] | null = null
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!
    if (typeof p !== 'object' || p === null) bad(i, 'not an object')
    const measurement = p.measurement
    if (typeof measurement !== 'string' || !validName(measurement)) bad(i, `measurement must match ${NAME.source}`)
    if (typeof p.ts !== 'number' || !Number.isInteger(p.ts) || p.ts < MIN_TS || p.ts > MAX_TS)
      bad(i, 'ts must be an integer epoch ms within 1677..2262')
    const tags = normalizeTags(i, p.tags ?? {})
    const ints = INTEGER_FIELDS[measurement]
    const stored = types.of(measurement)
    const rawFields = (p.fields ?? {}) as Readonly<Record<string, unknown>>
    let fields: Record<string, FieldValue> | null = null // the copy, once one is needed
    let n = 0
    for (const k in rawFields) {
      const v = rawFields[k]
      let keep: FieldValue | undefined
      let type: FieldType = 'float' // set with every kept value below
      if (!Object.prototype.hasOwnProperty.call(rawFields, k)) keep = undefined
      else if (!validName(k)) bad(i, k === 'time' ? 'field "time" is reserved' : `field key "${k}" must match ${NAME.source}`)
      else if (v === undefined || v === null) keep = undefined
      else if (typeof v === 'number') {
        if (!Number.isFinite(v)) bad(i, `field ${k} is not a finite number`)
        const int = ints !== undefined && ints.has(k)
        keep = int ? Math.round(v) : v
        type = int ? 'integer' : 'float'
      } else if (typeof v === 'string') {
        if (v.length > MAX_STRING) bad(i, `field ${k} is longer than ${MAX_STRING}`)
        keep = hasLineBreak(v) ? v.replace(/\r\n|[\r\n]/g, ' ') : v
        type = 'string'
      } else if (typeof v === 'boolean') {
        keep = v
        type = 'boolean'
      } else bad(i, `field ${k} must be a number, string or boolean`)
      // A dropped or changed field: from here on the point gets its own copy.
      if ((keep === undefined || keep !== v) && fields === null) fields = copyUpTo(rawFields, k)
      if (keep === undefined) continue
      if (fields !== null) fields[k] = keep
      n++
      const have = stored?.get(k) ?? (fresh === null ? undefined : freshType(fresh, measurement, k))
      if (have === undefined) (fresh ??= []).push({ measurement, field: k, type })
      else if (have !== type) bad(i, `field ${k} of ${measurement} is stored as ${have}, this point has a ${type}`)
    }
    if (n === 0) bad(i, 'no fields')
    out[i] = { measurement, tags, fields: fields ?? (rawFields as Readonly<Record<string, FieldValue>>), ts: p.ts }
  }
  if (!fresh) return { points: out, fresh: NO_FRESH }
  for (const f of fresh) types.set(f.measurement, f.field, f.type)
  return { points: out, fresh }
}

/**
 * The type a field took earlier in the same write. A function of its own, not a closure in the
 * loop: a closure over the loop's variables makes V8 allocate their scope for every field of every
 * point, even when the closure is never made (~240 bytes a point).
 */
function freshType(fresh: readonly NewFieldType[], measurement: string, field: string): FieldType | undefined {
  for (const f of fresh) if (f.measurement === measurement && f.field === field) return f.type
  return undefined
}

const NO_FRESH: readonly NewFieldType[] = Object.freeze([])

/** The own fields before `stop`, already checked: where a copy starts once one field must change. */
function copyUpTo(raw: Readonly<Record<string, unknown>>, stop: string): Record<string, FieldValue> {
  const copy: Record<string, FieldValue> = {}
  for (const k in raw) {
    if (k === stop) break
    const v = raw[k]
    if (Object.prototype.hasOwnProperty.call(raw, k) && v !== undefined && v !== null) copy[k] = v as FieldValue
  }
  return copy
}

/** The series key, as InfluxDB forms it (measurement and sorted tags). */
export function seriesKey(p: NormalPoint): string {
  let k = p.measurement
  for (const [t, v] of p.tags) k += `,${t}=${v.replace(/[\\,=]/g, '\\$&')}`
  return k
}

/** Aggregated points in one order for both stores: by time, then by their tags. */
export function sortPoints(points: QueriedPoint[], order: 'ASC' | 'DESC'): QueriedPoint[] {
  const keyed = points.map((p) => ({ p, k: JSON.stringify(Object.entries(p.tags).sort()) }))
  keyed.sort((a, b) => (a.p.ts !== b.p.ts ? (order === 'ASC' ? a.p.ts - b.p.ts : b.p.ts - a.p.ts) : a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
  return keyed.map((x) => x.p)
}

export type FieldType = 'float' | 'integer' | 'string' | 'boolean'

/**
 * The type of every field seen per measurement. InfluxDB refuses a point whose field type differs
 * from the one already stored (and drops it after the write was answered); both stores check
 * here first, so such a write is refused whole, naming the field, before anything is acknowledged.
 */
export class FieldTypes {
  // measurement → field → type: nested maps rather than a `${measurement}/${field}` key, which
  // would build a string for every field of every point written.
  private readonly known = new Map<string, Map<string, FieldType>>()
  private count = 0

  constructor(private readonly max = 100_000) {}

  /** The stored types of a measurement's fields (one lookup per point, then one per field). */
  of(measurement: string): ReadonlyMap<string, FieldType> | undefined {
    return this.known.get(measurement)
  }

  set(measurement: string, field: string, type: FieldType): void {
    let fields = this.known.get(measurement)
    if (fields?.has(field)) {
      fields.set(field, type)
      return
    }
    if (this.count >= this.max) return
    if (!fields) this.known.set(measurement, (fields = new Map<string, FieldType>()))
    fields.set(field, type)
    this.count++
  }

  clear(): void {
    this.known.clear()
    this.count = 0
  }
}
