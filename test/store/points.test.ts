import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { encodeLines, forEachLine, LineBuffer, linesBody, parseSeries } from '../../gateway/store/influx/line.ts'
import { FieldTypes, normalizePoints, type NormalPoint } from '../../gateway/store/points.ts'
import { INTEGER_FIELDS, type Point } from '../../gateway/store/types.ts'

// The stores' shared normalisation and the InfluxDB store's line buffer, below the contract suite:
// when a point's fields are used as they are and when they are copied, and the bytes of a batch.

const tags = { device: 'gauge-1', kind: 'water_level', station: 'kim-long' }
const point = (fields: Record<string, unknown>, ts = 1_764_400_000_000): Point => ({
  measurement: 'readings',
  tags,
  fields: fields as Point['fields'],
  ts,
})
const textOf = (points: readonly NormalPoint[]): string[] => encodeLines(points).body.toString('utf8').split('\n')

/**
 * The line protocol rules written the plain way, with strings (InfluxDB 1.6 line protocol
 * reference): what the byte writer must produce.
 */
function oracleLine(p: NormalPoint): string {
  const esc = (s: string, special: RegExp) => s.replace(special, '\\$&')
  let line = esc(p.measurement, /[, \\]/g)
  for (const [k, v] of p.tags) line += `,${esc(k, /[,= \\]/g)}=${esc(v, /[,= \\]/g)}`
  const fields = Object.entries(p.fields).map(([k, v]) => {
    const text =
      typeof v === 'number'
        ? `${String(v)}${INTEGER_FIELDS[p.measurement]?.has(k) ? 'i' : ''}`
        : typeof v === 'string'
          ? `"${v.replace(/["\\]/g, '\\$&')}"`
          : String(v)
    return `${esc(k, /[,= \\]/g)}=${text}`
  })
  return `${line} ${fields.join(',')} ${p.ts}`
}

describe('normalizePoints', () => {
  it("uses the writer's fields object when nothing in it must change", () => {
    const p = point({ water_level: 2.37, battery: 12.5, seq: 41, note: 'ok', wet: true })
    const { points } = normalizePoints([p], new FieldTypes())
    expect(points[0]!.fields).toBe(p.fields)
  })

  it("copies the fields, leaving the writer's object as it was, when one is dropped or changed", () => {
    const cases: Array<[Record<string, unknown>, Record<string, unknown>]> = [
      [
        { water_level: 2, seq: 4.6, battery: 12 },
        { water_level: 2, seq: 5, battery: 12 },
      ],
      [
        { water_level: 2, battery: null, rise_rate: 0.1 },
        { water_level: 2, rise_rate: 0.1 },
      ],
      [{ water_level: 2, battery: undefined }, { water_level: 2 }],
      [
        { note: 'two\r\nlines\nhere', water_level: 1 },
        { note: 'two lines here', water_level: 1 },
      ],
    ]
    for (const [given, stored] of cases) {
      const before = { ...given }
      const { points } = normalizePoints([point(given)], new FieldTypes())
      expect(points[0]!.fields).toEqual(stored)
      expect(points[0]!.fields).not.toBe(given)
      expect(given).toEqual(before)
    }
  })

  it('leaves out inherited enumerable keys', () => {
    const fields = Object.create({ inherited: 1 }) as Record<string, number>
    fields.water_level = 3
    const { points } = normalizePoints([point(fields)], new FieldTypes())
    expect(Object.keys(points[0]!.fields)).toEqual(['water_level'])
    expect(textOf(points)).toEqual(['readings,device=gauge-1,kind=water_level,station=kim-long water_level=3 1764400000000'])
  })

  it('learns new field types only from a write it accepts whole', () => {
    const types = new FieldTypes()
    expect(() => normalizePoints([point({ level_text: 'high' }), point({ level_text: 2 })], types)).toThrow(
      /point 1: field level_text of readings is stored as string, this point has a float/,
    )
    expect(types.of('readings')).toBeUndefined()
    const { fresh } = normalizePoints([point({ level_text: 2, seq: 1 }), point({ level_text: 3 })], types)
    expect(fresh).toEqual([
      { measurement: 'readings', field: 'level_text', type: 'float' },
      { measurement: 'readings', field: 'seq', type: 'integer' },
    ])
    expect(normalizePoints([point({ level_text: 4 })], types).fresh).toEqual([])
    expect(() => normalizePoints([point({ seq: true })], types)).toThrow(
      /field seq of readings is stored as integer, this point has a boolean/,
    )
  })
})

describe('LineBuffer and encodeLines', () => {
  it('writes escaped keys, typed values and the time in ms', () => {
    const { points } = normalizePoints(
      [
        {
          measurement: 'alerts',
          tags: { station: 'Kim Long, Huế', rule: 'a=b' },
          fields: { title: 'Báo động "III" \\ ', level: 3, late: false },
          ts: 5,
        },
        point({ seq: 7, water_level: 1e-7, rise_rate: -0.25, battery: 12 }, 6),
        point({ seq: -4_000_000_000, water_level: -1e21 }, -7),
        point({ water_level: 0.1 + 0.2, rise_rate: -0.000001, battery: 999999999.999999, rainfall: 0.0000001 }, 8),
      ],
      new FieldTypes(),
    )
    expect(textOf(points)).toEqual([
      'alerts,rule=a\\=b,station=Kim\\ Long\\,\\ Huế title="Báo động \\"III\\" \\\\ ",level=3,late=false 5',
      'readings,device=gauge-1,kind=water_level,station=kim-long seq=7i,water_level=1e-7,rise_rate=-0.25,battery=12 6',
      'readings,device=gauge-1,kind=water_level,station=kim-long seq=-4000000000i,water_level=-1e+21 -7',
      'readings,device=gauge-1,kind=water_level,station=kim-long water_level=0.30000000000000004,rise_rate=-0.000001,battery=999999999.999999,rainfall=1e-7 8',
    ])
  })

  it('writes any valid point exactly as the line protocol rules say (property)', () => {
    const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/).filter((k) => k !== 'time')
    // Decimals as sensors send them (m / 10^k) and any double at all.
    const decimal = fc.tuple(fc.integer({ min: -(10 ** 12), max: 10 ** 12 }), fc.integer({ min: 0, max: 9 })).map(([m, k]) => m / 10 ** k)
    const value = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      decimal,
      decimal,
      fc.integer({ min: -1e9, max: 1e9 }),
      fc.constantFrom(0, -0, 1e15, -1e15, 999_999_999_999_999, 2 ** 53, 1e21, 5e-324),
      fc.string({ unit: 'grapheme', maxLength: 20 }).map((t) => t.replace(/[\r\n]/g, ' ')),
      fc.boolean(),
    )
    const anyPoint = fc.record({
      measurement: fc.constantFrom('readings', 'detections', 'm_x'),
      tags: fc.dictionary(
        name,
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).map((t) => t.replace(/[\r\n]/g, ' ')),
        { maxKeys: 4 },
      ),
      fields: fc.dictionary(name, value, { minKeys: 1, maxKeys: 6 }),
      ts: fc.integer({ min: -9_000_000_000_000, max: 9_000_000_000_000 }),
    })
    fc.assert(
      fc.property(fc.array(anyPoint, { minLength: 1, maxLength: 12 }), fc.nat(), (raw, cut) => {
        let points: NormalPoint[]
        try {
          // Each point its own store, so a name's type in one point does not refuse another.
          points = raw.map((p) => normalizePoints([p as Point], new FieldTypes()).points[0]!)
        } catch {
          return // a point normalizePoints refuses never reaches the writer
        }
        const want = points.map(oracleLine)
        expect(textOf(points)).toEqual(want)
        // The same lines through a small buffer that must grow, and in two parts of a write made apart.
        const buf = new LineBuffer(8)
        const lines = encodeLines(points)
        const k = cut % (points.length + 1)
        buf.pushLines(lines, 0, k)
        buf.pushLines(lines, k, points.length)
        expect(buf.lines).toBe(points.length)
        expect(buf.take().toString('utf8')).toBe(want.join('\n'))
        expect(linesBody(lines, k, points.length).toString('utf8')).toBe(want.slice(k).join('\n'))
      }),
      { numRuns: 3000 },
    )
  })

  it("reads each line's series and time back from a body, and a series name back to its measurement and tags (property)", () => {
    // Names are identifiers (normalizePoints); tag values carry every character the escaping is
    // about, and Vietnamese text.
    const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/).filter((k) => k !== 'time')
    const text = fc.string({ unit: fc.constantFrom('a', 'Z', '_', ',', '=', ' ', '\\', '"', 'ầ', 'ư', '1'), minLength: 1, maxLength: 10 })
    const anyPoint = fc.record({
      measurement: name,
      tags: fc.dictionary(name, text, { maxKeys: 4 }),
      fields: fc.dictionary(name, fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), text, fc.boolean()), {
        minKeys: 1,
        maxKeys: 4,
      }),
      ts: fc.integer({ min: -9_000_000_000_000, max: 9_000_000_000_000 }),
    })
    let checked = 0
    fc.assert(
      fc.property(fc.array(anyPoint, { minLength: 1, maxLength: 8 }), (raw) => {
        let points: NormalPoint[]
        try {
          points = raw.map((p) => normalizePoints([p as Point], new FieldTypes()).points[0]!)
        } catch {
          return
        }
        const buf = new LineBuffer(8)
        const names = points.map((p) => buf.push(p))
        const seen: Array<[string, number]> = []
        forEachLine(buf.take(), (series, ts) => seen.push([series, ts]))
        expect(seen).toEqual(points.map((p, i) => [names[i], p.ts]))
        for (const [i, p] of points.entries())
          expect(parseSeries(names[i]!)).toEqual({ measurement: p.measurement, tags: p.tags.map(([k, v]) => [k, v]) })
        checked++
      }),
      { numRuns: 2000 },
    )
    expect(checked).toBeGreaterThan(500)
  })

  it('joins lines with \\n as UTF-8 bytes, growing past its first size, and starts empty after take', () => {
    const buf = new LineBuffer(16)
    const station = Object.freeze({ station: 'Cầu Trường Tiền' })
    const points: NormalPoint[] = Array.from({ length: 200 }, (_, i) => ({
      measurement: 'm',
      tags: Object.freeze([Object.freeze(['station', station.station] as const)]),
      fields: { v: i },
      ts: i,
    }))
    for (const p of points) expect(buf.push(p)).toBe('m,station=Cầu\\ Trường\\ Tiền')
    expect(buf.lines).toBe(200)
    const body = buf.take()
    const want = points.map((p) => `m,station=Cầu\\ Trường\\ Tiền v=${p.fields.v} ${p.ts}`).join('\n')
    expect(body.toString('utf8')).toBe(want)
    expect(buf.lines).toBe(0)
    buf.push({ measurement: 'm', tags: [], fields: { v: 1 }, ts: 1 })
    expect(buf.take().toString()).toBe('m v=1 1')
    expect(buf.take().length).toBe(0)
    // A body taken earlier is not overwritten by later lines.
    expect(body.toString('utf8')).toBe(want)
  })

  it('sizes the next buffer for a peak batch at once, and gives it back once batches are small again', () => {
    const buf = new LineBuffer(1024)
    const line = (i: number): NormalPoint => ({ measurement: 'm', tags: [], fields: { v: i }, ts: i })
    for (let i = 0; i < 20_000; i++) buf.push(line(i))
    const peak = buf.take().length
    expect(buf.allocated).toBeGreaterThanOrEqual(peak)
    // A second peak batch fits without growing.
    for (let i = 0; i < 20_000; i++) buf.push(line(i))
    expect(buf.take().length).toBe(peak)
    expect(buf.allocated).toBeGreaterThanOrEqual(peak)
    // Load ends: one small batch a flush.
    for (let k = 0; k < 40; k++) {
      buf.push(line(k))
      expect(buf.take().toString()).toBe(`m v=${k} ${k}`)
    }
    expect(buf.allocated).toBe(1024)
  })
})
