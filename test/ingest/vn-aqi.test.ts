import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { dailyAqiFor, HOUR_MS, memoryHourlyMeans, vnDayStartOf } from '../../gateway/ingest/aqi-state.ts'
import { aqiBand, BREAKPOINTS, dailyAqi, hourlyAqi, nowcast, subIndex, type BreakpointColumn } from '../../gateway/domain/vn-aqi.ts'

// Decision 1459/QĐ-TCMT §2.3 (worked examples), PM2.5 hourly means 09:00..20:00.
const EXAMPLE_PM25 = [26.9, 24.7, 20.5, 23.5, 19.5, 16.5, 19.0, 16.5, 20.3, 22.4, 19.6, 20.6]
const c1First = [...EXAMPLE_PM25].reverse() // c1 = 20:00

describe('VN_AQI worked examples (Decision 1459/QĐ-TCMT §2.3)', () => {
  it('NowCast: w* = 16.5 / 26.9 = 0.61 gives 20.3 µg/m³ and a PM2.5 sub-index of 41', () => {
    expect(16.5 / 26.9).toBeCloseTo(0.61, 2)
    const n = nowcast(c1First)!
    expect(Math.round(n * 10) / 10).toBe(20.3)
    expect(Math.round(subIndex('pm25', n)!)).toBe(41)
  })

  it('hourly AQI: O3 136.1 → 43, NO2 118.7 → 59.35 (printed 60), PM2.5 NowCast 20.3 → 41; AQI^h from the formula', () => {
    expect(Math.round(subIndex('o3_1h', 136.1)!)).toBe(43)
    // The decision prints 60; the formula gives 59.35 (vn-aqi.md: test the formula).
    expect(subIndex('no2', 118.7)!).toBeCloseTo(59.35, 2)
    const r = hourlyAqi({ pm25: c1First, o3: 136.1, no2: 118.7 })!
    expect(r.dominant).toBe('no2')
    expect(r.aqi).toBe(59)
    expect(Math.round(r.subIndices.pm25!)).toBe(41)
  })

  it('daily AQI: O3 8h 89.3 → 45, O3 1h 114.6 → 36, NO2 130.8 → 65, PM2.5 55.7 → 110 → AQI^d 110', () => {
    expect(Math.round(subIndex('o3_8h', 89.3)!)).toBe(45)
    expect(Math.round(subIndex('o3_1h', 114.6)!)).toBe(36)
    expect(Math.round(subIndex('no2', 130.8)!)).toBe(65)
    expect(Math.round(subIndex('pm25', 55.7)!)).toBe(110)
    const r = dailyAqi({ o3_max8h: 89.3, o3_max1h: 114.6, no2_max1h: 130.8, pm25_24h: 55.7 })!
    expect(r).toMatchObject({ aqi: 110, dominant: 'pm25' })
    expect(Math.round(r.subIndices.o3!)).toBe(45)
  })

  it('O3 8-hour means: the example table gives a day maximum of 74.4 µg/m³', () => {
    // Hourly O3 means of the decision's example, 18:00 of the day before to 00:00 (31 hours).
    const o3 = [
      15.7, 14.2, 17.7, 18.9, 19.3, 15.7, 19.7, 22.6, 27.1, 29.0, 31.9, 25.3, 34.7, 35.2, 41.6, 45.7, 49.2, 55.8, 69.6, 78.3, 91.5, 97.7,
      81.2, 71.8, 43.5, 34.3, 21.5, 20.5, 19.4, 20.4, 21.3,
    ]
    const state = memoryHourlyMeans()
    // Hour labelled 01:00 local is the hour starting 00:00 local (UTC+7). Labels 18:00..00:00
    // of the example are the hours starting 17:00 (day before) .. 23:00.
    const day = vnDayStartOf(Date.UTC(2025, 0, 15, 5))
    const first = day - 7 * HOUR_MS
    o3.forEach((v, i) => state.add('aq', 'o3', first + i * HOUR_MS, v))
    state.add('aq', 'pm25', day, 10)
    const r = dailyAqiFor(state, 'aq', day)!
    // max 1h 97.7 → 30.5; max 8h 74.4 → 37.2: the 8-hour sub-index rules O3.
    const max8h = r.subIndices.o3! / (50 / 100)
    expect(Math.round(max8h * 10) / 10).toBe(74.4)
    expect(Math.round(r.subIndices.o3!)).toBe(37)
  })
})

describe('VN_AQI breakpoints (Table 2)', () => {
  const I = [0, 50, 100, 150, 200, 300, 400, 500]
  for (const [col, bps] of Object.entries(BREAKPOINTS) as Array<[BreakpointColumn, number[]]>) {
    it(`${col}: every breakpoint maps to its index value and is continuous there`, () => {
      bps.forEach((bp, i) => {
        expect(subIndex(col, bp)).toBeCloseTo(I[i]!, 9)
        if (i > 0) {
          const below = subIndex(col, bp - 1e-6)!
          expect(below).toBeLessThanOrEqual(I[i]!)
          expect(I[i]! - below).toBeLessThan(1e-3)
        }
        if (i < bps.length - 1) expect(subIndex(col, bp + 1e-6)!).toBeGreaterThanOrEqual(I[i]!)
      })
    })
  }
  it('past the last row ("≥") the index is 500; O3 8h above 400 µg/m³ is not used', () => {
    expect(subIndex('pm25', 800)).toBe(500)
    expect(subIndex('co', 1e6)).toBe(500)
    expect(subIndex('o3_8h', 400)).toBe(300)
    expect(subIndex('o3_8h', 400.1)).toBeUndefined()
    expect(dailyAqi({ pm10_24h: 10, o3_max8h: 450, o3_max1h: 900 })!.subIndices.o3).toBeCloseTo(350, 9)
  })
  it('negative or non-finite concentrations have no sub-index', () => {
    expect(subIndex('pm25', -1)).toBeUndefined()
    expect(subIndex('pm25', Number.NaN)).toBeUndefined()
  })
  it('bands follow Table 1 with their colours', () => {
    expect(aqiBand(50)).toMatchObject({ vi: 'Tốt', rgb: [0, 228, 0] })
    expect(aqiBand(51).vi).toBe('Trung bình')
    expect(aqiBand(150).en).toBe('Poor')
    expect(aqiBand(151).rgb).toEqual([255, 0, 0])
    expect(aqiBand(300).vi).toBe('Rất xấu')
    expect(aqiBand(301).rgb).toEqual([126, 0, 35])
  })
})

describe('NowCast rules', () => {
  it('needs at least 2 of c1..c3', () => {
    expect(nowcast([10, undefined, undefined, 10, 10])).toBeUndefined()
    expect(nowcast([10, undefined, 12])).toBeDefined()
  })
  it('w* ≤ 0.5 uses Σ 0.5^i·ci as written, a missing hour weighing 0', () => {
    const c = [10, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40]
    const expected = c.reduce((s, ci, i) => s + 0.5 ** (i + 1) * ci, 0)
    expect(nowcast(c)).toBeCloseTo(expected, 9)
    const gap = [10, 40, undefined, 40]
    expect(nowcast(gap)).toBeCloseTo(0.5 * 10 + 0.25 * 40 + 0.0625 * 40, 9)
  })
  it('all-zero hours give 0', () => {
    expect(nowcast([0, 0, 0])).toBe(0)
  })
  it('AQI needs PM10 or PM2.5', () => {
    expect(hourlyAqi({ o3: 100, no2: 50 })).toBeUndefined()
    expect(dailyAqi({ no2_max1h: 50 })).toBeUndefined()
  })
})

describe('VN_AQI never decreases when a concentration rises (property)', () => {
  const conc = fc.double({ min: 0, max: 200_000, noNaN: true })
  const rise = fc.double({ min: 0, max: 10_000, noNaN: true })
  it('each sub-index column', () => {
    const cols = Object.keys(BREAKPOINTS).filter((c) => c !== 'o3_8h') as BreakpointColumn[]
    fc.assert(
      fc.property(fc.constantFrom(...cols), conc, rise, (col, c, d) => subIndex(col, c + d)! >= subIndex(col, c)! - 1e-9),
      { numRuns: 5000 },
    )
    fc.assert(
      fc.property(fc.double({ min: 0, max: 400, noNaN: true }), fc.double({ min: 0, max: 400, noNaN: true }), (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a]
        return subIndex('o3_8h', hi)! >= subIndex('o3_8h', lo)! - 1e-9
      }),
    )
  })
  it('hourly AQI when any one of 12 complete PM hours, or a 1-hour gas mean, rises', () => {
    const hours = fc.array(fc.double({ min: 0, max: 600, noNaN: true }), { minLength: 12, maxLength: 12 })
    const gases = fc.record({ o3: conc, no2: conc, so2: conc, co: conc })
    fc.assert(
      fc.property(
        hours,
        hours,
        gases,
        fc.integer({ min: 0, max: 11 }),
        fc.constantFrom('pm25', 'pm10', 'o3', 'no2', 'so2', 'co'),
        rise,
        (pm25, pm10, g, k, which, d) => {
          const before = hourlyAqi({ pm25, pm10, ...g })!
          const after =
            which === 'pm25' || which === 'pm10'
              ? hourlyAqi({ pm25, pm10, ...g, [which]: (which === 'pm25' ? pm25 : pm10).map((v, i) => (i === k ? v + d : v)) })!
              : hourlyAqi({ pm25, pm10, ...g, [which]: g[which as 'o3'] + d })!
          return after.aqi >= before.aqi
        },
      ),
      { numRuns: 5000 },
    )
  })
  it('daily AQI when any daily input rises', () => {
    const inp = fc.record({
      pm25_24h: conc,
      pm10_24h: conc,
      o3_max1h: conc,
      o3_max8h: fc.double({ min: 0, max: 400, noNaN: true }),
      no2_max1h: conc,
      so2_max1h: conc,
      co_max1h: conc,
    })
    fc.assert(
      fc.property(inp, fc.constantFrom('pm25_24h', 'pm10_24h', 'o3_max1h', 'no2_max1h', 'so2_max1h', 'co_max1h'), rise, (x, key, d) => {
        const k = key as keyof typeof x
        return dailyAqi({ ...x, [k]: x[k] + d })!.aqi >= dailyAqi(x)!.aqi
      }),
      { numRuns: 5000 },
    )
  })
})
