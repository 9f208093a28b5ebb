import fc from 'fast-check'
import { Compile } from 'typebox/compile'
import { describe, expect, it } from 'vitest'
import { isPlainReading, parseTelemetry } from '../../gateway/ingest/parse.ts'
import { TelemetryReading } from '../../gateway/protocol/index.ts'

// The allocation-free guard in front of the reading schema: it may only say yes where the schema
// does, and it must say yes to what devices actually send (else it saves nothing).

const schema = Compile(TelemetryReading)

const anyValue = fc.oneof(
  fc.double(),
  fc.integer({ min: -5, max: 2 ** 53 + 4 }),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, -0, Infinity, -Infinity),
  fc.string({ maxLength: 30 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
)
const valuesLike = fc.oneof(
  fc.dictionary(
    fc.oneof(fc.constantFrom('water_level', 'battery', 'pm25', ''), fc.string({ maxLength: 70 })),
    fc.oneof(fc.double({ noNaN: false }), anyValue),
    { minKeys: 0, maxKeys: 40 },
  ),
  anyValue,
)
const readingLike = fc.record(
  {
    ts: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.constantFrom('2026-11-29T06:00:00Z', '', 'x'.repeat(70)), anyValue),
    seq: fc.oneof(fc.nat(), anyValue),
    values: valuesLike,
    extra: anyValue,
  },
  { requiredKeys: [] },
)

describe('isPlainReading', () => {
  it('says yes only where the schema does, for any JSON document', () => {
    fc.assert(
      fc.property(fc.oneof(readingLike, fc.jsonValue()), (doc) => {
        // What the gateway gets is JSON.parse output: Infinity and -0 do not survive it, as on the wire.
        const item: unknown = JSON.parse(JSON.stringify(doc) ?? 'null')
        if (isPlainReading(item)) expect(schema.Check(item)).toBe(true)
      }),
      { numRuns: 20_000 },
    )
  })

  it('says yes to the readings devices send', () => {
    for (const r of [
      { ts: 1_764_400_000_000, seq: 41, values: { water_level: 2.37, battery: 12.5 } },
      { values: { rainfall: 0 } },
      { ts: 1_764_400_000.5, values: { pm25: 35.2, pm10: 60, co: 1200, temperature: 31, humidity: 80 } },
    ]) {
      expect(isPlainReading(JSON.parse(JSON.stringify(r)))).toBe(true)
    }
    // The schema still decides, and explains, the rest.
    expect(isPlainReading({ ts: '2026-11-29T06:00:00Z', values: { water_level: 1 } })).toBe(false)
    expect(parseTelemetry({ ts: '2026-11-29T06:00:00Z', values: { water_level: 1 } }, 0).readings).toHaveLength(1)
    expect(() => parseTelemetry({ values: { water_level: 1 }, station: 'x' }, 0)).toThrow(/payload\/station is not an accepted field/)
  })
})
