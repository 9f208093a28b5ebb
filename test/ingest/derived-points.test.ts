import { describe, expect, it } from 'vitest'
import { DERIVED_GRID_MS } from '../../gateway/store/types.ts'
import { device, publish, setup } from './helpers.ts'

// Where ingest writes what it derives (docs/data-model.md, "Derived values"): the reading as the
// device sent it in `readings`; alarm_level, rise_rate, aqi and aqi_dominant in `derived`, on
// change and at least once per 5 s grid cell, a late reading's own values flagged `late`.

const gauge = device('kim-long-01', 'water_level', 'kim-long')
const derivedPoints = (s: ReturnType<typeof setup>) => s.sink.points.filter((p) => p.measurement === 'derived')
/** Start of a grid cell an hour ago, so a run of readings starts at a cell's start. */
const cellStart = () => Math.floor((Date.now() - 3_600_000) / DERIVED_GRID_MS) * DERIVED_GRID_MS

describe('derived points', () => {
  it('a reading is stored as sent, with the tags that find it and nothing derived', async () => {
    const s = setup()
    await s.ingest.telemetry(publish(gauge, { ts: cellStart(), seq: 3, values: { water_level: 2.5, battery: 12.5 } }))
    const [p] = s.sink.readings()
    expect(p!.fields).toEqual({ water_level: 2.5, battery: 12.5, seq: 3 })
    expect(p!.tags).toEqual({ device: 'kim-long-01', kind: 'water_level', station: 'kim-long', district: 'Huế' })
    expect(derivedPoints(s)).toMatchObject([{ ts: p!.ts, tags: p!.tags, fields: { alarm_level: 2 } }])
  })

  it('a device sending every second: one point per grid cell while nothing changes, one more at each change', async () => {
    const s = setup()
    const t0 = cellStart()
    // 30 readings a second apart: level I for 12 s, then level II (from 12 s, inside a cell).
    for (let i = 0; i < 30; i++)
      await s.ingest.telemetry(publish(gauge, { ts: t0 + i * 1000, seq: i, values: { water_level: i < 12 ? 1.5 : 2.5 } }))
    expect(s.sink.readings()).toHaveLength(30)
    expect(derivedPoints(s).map((p) => [(p.ts - t0) / 1000, p.fields.alarm_level])).toEqual([
      [0, 1],
      [5, 1],
      [10, 1],
      [12, 2],
      [15, 2],
      [20, 2],
      [25, 2],
    ])
    // Every reading still finds its own alarm level.
    expect(s.sink.readingsWithDerived().map((p) => p.fields.alarm_level)).toEqual([...Array(12).fill(1), ...Array(18).fill(2)])
  })

  it('readings further apart than the grid: a point at each', async () => {
    const s = setup()
    const t0 = cellStart()
    for (let i = 0; i < 5; i++) await s.ingest.telemetry(publish(gauge, { ts: t0 + i * 60_000, seq: i, values: { water_level: 1.5 } }))
    expect(derivedPoints(s).map((p) => p.ts)).toEqual(s.sink.readings().map((p) => p.ts))
  })

  it('a late reading gets a point of its own, flagged, and the readings around it keep theirs', async () => {
    const s = setup()
    const t0 = cellStart()
    for (const i of [0, 1, 3, 4]) await s.ingest.telemetry(publish(gauge, { ts: t0 + i * 1000, seq: i, values: { water_level: 1.5 } }))
    await s.ingest.telemetry(publish(gauge, { ts: t0 + 2000, seq: 2, values: { water_level: 3.6 } }))
    expect(derivedPoints(s).map((p) => [(p.ts - t0) / 1000, p.fields])).toEqual([
      [0, { alarm_level: 1 }],
      [2, { alarm_level: 3, late: true }],
    ])
    const byTs = s.sink
      .readingsWithDerived()
      .sort((a, b) => a.ts - b.ts)
      .map((p) => p.fields.alarm_level)
    expect(byTs).toEqual([1, 1, 3, 1, 1])
  })

  it('values that stop inside a cell are marked unset; none at all writes nothing', async () => {
    const s = setup()
    const t0 = cellStart()
    await s.ingest.telemetry(publish(gauge, { ts: t0, seq: 0, values: { water_level: 1.5 } }))
    // The device's station is removed (an operator's edit): no alarm level from its next reading.
    const moved = device(gauge.id, 'water_level', null)
    await s.ingest.telemetry(publish(moved, { ts: t0 + 1000, seq: 1, values: { water_level: 1.5 } }))
    await s.ingest.telemetry(publish(moved, { ts: t0 + 2000, seq: 2, values: { water_level: 1.5 } }))
    await s.ingest.telemetry(publish(moved, { ts: t0 + DERIVED_GRID_MS, seq: 3, values: { water_level: 1.5 } }))
    expect(derivedPoints(s).map((p) => [(p.ts - t0) / 1000, p.fields])).toEqual([
      [0, { alarm_level: 1 }],
      [1, { unset: true }],
    ])
    expect(s.sink.readingsWithDerived().map((p) => p.fields.alarm_level)).toEqual([1, undefined, undefined, undefined])
  })

  it('after a failed write the next reading writes its point again', async () => {
    const s = setup()
    const t0 = cellStart()
    await s.ingest.telemetry(publish(gauge, { ts: t0, seq: 0, values: { water_level: 1.5 } }))
    s.sink.fail = true
    await expect(s.ingest.telemetry(publish(gauge, { ts: t0 + 1000, seq: 1, values: { water_level: 2.5 } }))).rejects.toThrow()
    s.sink.fail = false
    await s.ingest.telemetry(publish(gauge, { ts: t0 + 2000, seq: 2, values: { water_level: 2.5 } }))
    expect(derivedPoints(s).map((p) => [(p.ts - t0) / 1000, p.fields.alarm_level])).toEqual([
      [0, 1],
      [2, 2],
    ])
  })
})
