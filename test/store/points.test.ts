import { describe, expect, it } from 'vitest'
import { LineBuffer, toLine } from '../../gateway/store/influx/line.ts'
import { FieldTypes, normalizePoints } from '../../gateway/store/points.ts'
import type { Point } from '../../gateway/store/types.ts'

// The stores' shared normalisation and the InfluxDB store's line buffer, below the contract suite:
// when a point's fields are used as they are and when they are copied, and the bytes of a batch.

const tags = { device: 'gauge-1', kind: 'water_level', station: 'kim-long' }
const point = (fields: Record<string, unknown>, ts = 1_764_400_000_000): Point => ({ measurement: 'readings', tags, fields: fields as Point['fields'], ts })

describe('normalizePoints', () => {
  it('uses the writer\'s fields object when nothing in it must change', () => {
    const p = point({ water_level: 2.37, battery: 12.5, seq: 41, note: 'ok', wet: true })
    const { points } = normalizePoints([p], new FieldTypes())
    expect(points[0]!.fields).toBe(p.fields)
  })

  it('copies the fields, leaving the writer\'s object as it was, when one is dropped or changed', () => {
    const cases: Array<[Record<string, unknown>, Record<string, unknown>]> = [
      [{ water_level: 2, seq: 4.6, battery: 12 }, { water_level: 2, seq: 5, battery: 12 }],
      [{ water_level: 2, battery: null, rise_rate: 0.1 }, { water_level: 2, rise_rate: 0.1 }],
      [{ water_level: 2, battery: undefined }, { water_level: 2 }],
      [{ note: 'two\r\nlines\nhere', water_level: 1 }, { note: 'two lines here', water_level: 1 }],
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
    expect(toLine(points[0]!)).toBe('readings,device=gauge-1,kind=water_level,station=kim-long water_level=3 1764400000000')
  })

  it('learns new field types only from a write it accepts whole', () => {
    const types = new FieldTypes()
    expect(() => normalizePoints([point({ level_text: 'high' }), point({ level_text: 2 })], types)).toThrow(/point 1: field level_text of readings is stored as string, this point has a float/)
    expect(types.of('readings')).toBeUndefined()
    const { fresh } = normalizePoints([point({ level_text: 2, seq: 1 }), point({ level_text: 3 })], types)
    expect(fresh).toEqual([
      { measurement: 'readings', field: 'level_text', type: 'float' },
      { measurement: 'readings', field: 'seq', type: 'integer' },
    ])
    expect(normalizePoints([point({ level_text: 4 })], types).fresh).toEqual([])
    expect(() => normalizePoints([point({ seq: true })], types)).toThrow(/field seq of readings is stored as integer, this point has a boolean/)
  })
})

describe('toLine and LineBuffer', () => {
  it('writes escaped keys, typed values and the time in ms', () => {
    const { points } = normalizePoints(
      [
        { measurement: 'alerts', tags: { station: 'Kim Long, Huế', rule: 'a=b' }, fields: { title: 'Báo động "III" \\ ', level: 3, late: false }, ts: 5 },
        point({ seq: 7, water_level: 1e-7 }, 6),
      ],
      new FieldTypes(),
    )
    expect(points.map(toLine)).toEqual([
      'alerts,rule=a\\=b,station=Kim\\ Long\\,\\ Huế title="Báo động \\"III\\" \\\\ ",level=3,late=false 5',
      'readings,device=gauge-1,kind=water_level,station=kim-long seq=7i,water_level=1e-7 6',
    ])
  })

  it('joins lines with \\n as UTF-8 bytes, growing past its first size, and starts empty after take', () => {
    const buf = new LineBuffer(16)
    const lines = Array.from({ length: 200 }, (_, i) => `m,station=Cầu\\ Trường\\ Tiền v=${i} ${i}`)
    for (const l of lines) buf.push(l)
    expect(buf.lines).toBe(200)
    const body = buf.take()
    expect(body.toString('utf8')).toBe(lines.join('\n'))
    expect(buf.lines).toBe(0)
    buf.push('m v=1 1')
    expect(buf.take().toString()).toBe('m v=1 1')
    expect(buf.take().length).toBe(0)
    // A body taken earlier is not overwritten by later lines.
    expect(body.toString('utf8')).toBe(lines.join('\n'))
  })
})
