import { describe, expect, it } from 'vitest'
import { converterFor } from '../../gateway/protocol/units.ts'
import { device, publish, setup } from './helpers.ts'
import { metricValue } from '../support/metrics.ts'

const gauge = device('kim-long-01', 'water_level', 'kim-long')
const rain = device('rain-01', 'rain_gauge', 'kim-long')
const air = device('aq-01', 'air_quality', null)

describe('telemetry: accepted forms', () => {
  it('one reading with ISO time, stored with its own time, tags and seq, then announced', async () => {
    const { ingest, sink, events } = setup()
    const ts = new Date(Date.now() - 1000).toISOString()
    await ingest.telemetry(publish(gauge, { ts, seq: 7, values: { water_level: 2.31, battery: 12.6 } }))
    const [p] = sink.readings()
    expect(p).toMatchObject({
      measurement: 'readings',
      ts: Date.parse(ts),
      tags: { device: 'kim-long-01', kind: 'water_level', station: 'kim-long', district: 'Huế' },
    })
    // The reading as sent; what ingest derives from it in a `derived` point (docs/data-model.md).
    expect(p!.fields).toEqual({ water_level: 2.31, battery: 12.6, seq: 7 })
    expect(sink.points.filter((x) => x.measurement === 'derived')).toEqual([{ ...p, measurement: 'derived', fields: { alarm_level: 2 } }])
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ device: 'kim-long-01', seq: 7, late: false, values: { water_level: 2.31, alarm_level: 2 } })
  })

  it('epoch ms, missing ts (arrival time) and arrays', async () => {
    const { ingest, sink } = setup()
    const now = Date.now()
    await ingest.telemetry(publish(gauge, { values: { water_level: 0.5 } }, { receivedAt: now }))
    await ingest.telemetry(
      publish(gauge, [
        { ts: now - 2000, seq: 1, values: { water_level: 0.6 } },
        { ts: now - 1000, seq: 2, values: { water_level: 0.7 } },
      ]),
    )
    expect(sink.readings().map((p) => p.ts)).toEqual([now, now - 2000, now - 1000])
    expect(sink.readingsWithDerived()[0]!.fields.alarm_level).toBe(0)
  })

  it('tags that are unknown are omitted', async () => {
    const { ingest, sink } = setup()
    await ingest.telemetry(publish({ ...air, district: null }, { values: { pm25: 10 } }))
    expect(sink.readings()[0]!.tags).toEqual({ device: 'aq-01', kind: 'air_quality' })
  })

  it('SenML pack: base name/time/unit, relative time, unit conversion, seq record', async () => {
    const { ingest, sink } = setup()
    const t = Date.now() / 1000 - 60
    await ingest.telemetry(
      publish(gauge, [
        { bn: 'urn:dev:kim-long-01:', bt: t, bu: 'cm', n: 'level', v: 231 },
        { n: 'batt', u: 'mV', v: 12600 },
        { n: 'seq', v: 42 },
        { n: 'temp', u: 'K', v: 300.15, t: 0 },
      ]),
    )
    const [p] = sink.readings()
    expect(p!.ts).toBe(Math.round(t * 1000))
    expect(p!.fields.water_level).toBeCloseTo(2.31, 9)
    expect(p!.fields.battery).toBeCloseTo(12.6, 9)
    expect(p!.fields.temperature).toBeCloseTo(27, 9)
    expect(p!.fields.seq).toBe(42)
    // Relative time (RFC 8428 §4.5.3): t = -30 means 30 s before now.
    const before = Date.now()
    await ingest.telemetry(publish(air, [{ n: 'pm10', u: 'mg/m3', v: 0.05, t: -30 }]))
    const q = sink.readings()[1]!
    expect(q.fields.pm10).toBeCloseTo(50, 9)
    expect(Math.abs(q.ts - (before - 30_000))).toBeLessThan(5000)
  })
})

describe('unit conversions into canonical units', () => {
  const cases: Array<[string, string, number, number]> = [
    ['water_level', 'mm', 2310, 2.31],
    ['water_level', 'cm', 231, 2.31],
    ['water_level', 'm', 2.31, 2.31],
    ['rainfall', 'cm', 1.2, 12],
    ['rainfall', 'm', 0.012, 12],
    ['rainfall', 'mm', 12, 12],
    ['pm25', 'mg/m3', 0.035, 35],
    ['pm25', 'ug/m3', 35, 35],
    ['co', 'kg/m3', 1e-6, 1000],
    ['no2', 'ppb', 100, 188.16],
    ['so2', 'ppm', 0.1, 262.03],
    ['co', 'ppm', 1, 1145.6],
    ['o3', 'ppb', 50, 98.16],
    ['temperature', 'Cel', 30, 30],
    ['temperature', 'K', 273.15, 0],
    ['humidity', '%RH', 80, 80],
    ['humidity', '/', 0.8, 80],
    ['battery', 'V', 12.6, 12.6],
    ['battery', 'mV', 3700, 3.7],
    ['rssi', 'dBm', -70, -70],
    ['rssi', 'dBW', -100, -70],
    ['interval_s', 'min', 5, 300],
    ['interval_s', 'ms', 60000, 60],
    ['interval_s', 'h', 1, 3600],
  ]
  it.each(cases)('%s in %s: %d → %d', (metric, unit, v, expected) => {
    const conv = converterFor(metric as 'pm25', unit)!
    expect(conv).toBeDefined()
    expect(conv(v)).toBeCloseTo(expected, 1)
  })
  it('mismatched units have no converter', () => {
    expect(converterFor('water_level', 'ug/m3')).toBeUndefined()
    expect(converterFor('pm25', 'ppb')).toBeUndefined() // particles have no molar mass
    expect(converterFor('temperature', 'V')).toBeUndefined()
  })
})

describe('telemetry: every check refuses with its reason, counts it and keeps it for the API', () => {
  const now = Date.now()
  const cases: Array<[string, typeof gauge, unknown, string, boolean?]> = [
    ['invalid JSON', gauge, '{"values": ', 'invalid_json', true],
    ['empty payload', gauge, '', 'invalid_json', true],
    ['a JSON string', gauge, '"hello"', 'invalid_payload', true],
    ['no values', gauge, { ts: now }, 'invalid_payload'],
    ['empty values', gauge, { values: {} }, 'invalid_payload'],
    ['value not a number', gauge, { values: { water_level: '2.3' } }, 'invalid_payload'],
    ['unknown field', gauge, { values: { water_level: 1 }, foo: 1 }, 'invalid_payload'],
    ['negative seq', gauge, { seq: -1, values: { water_level: 1 } }, 'invalid_payload'],
    ['empty array', gauge, [], 'invalid_payload'],
    ['infinite value (1e999)', gauge, '{"values":{"water_level":1e999}}', 'not_finite', true],
    ['unknown metric', gauge, { values: { flux: 1 } }, 'unknown_metric'],
    ['derived metric sent', gauge, { values: { water_level: 1, alarm_level: 3 } }, 'derived_metric'],
    ['metric of another kind', gauge, { values: { pm25: 10 } }, 'metric_not_for_kind'],
    ['level above range', gauge, { values: { water_level: 1200 } }, 'out_of_range'],
    ['negative rainfall', rain, { values: { rainfall: -1, interval_s: 300 } }, 'out_of_range'],
    ['humidity over 100', air, { values: { humidity: 101 } }, 'out_of_range'],
    ['rainfall without interval', rain, { values: { rainfall: 2 } }, 'missing_interval'],
    ['ts 10 min ahead', gauge, { ts: now + 600_000, values: { water_level: 1 } }, 'ts_future'],
    ['ts a year old', gauge, { ts: now - 365 * 86_400_000, values: { water_level: 1 } }, 'ts_too_old'],
    ['ts in epoch seconds', gauge, { ts: Math.floor(now / 1000), values: { water_level: 1 } }, 'ts_invalid'],
    ['ts without zone', gauge, { ts: '2025-10-28T07:00:00', values: { water_level: 1 } }, 'ts_invalid'],
    ['ts garbage', gauge, { ts: 'yesterday', values: { water_level: 1 } }, 'ts_invalid'],
    ['SenML wrong unit', gauge, [{ n: 'water_level', u: 'ug/m3', v: 1 }], 'unit_mismatch'],
    ['SenML string value', gauge, [{ n: 'water_level', vs: 'high' }], 'senml_unsupported'],
    ['SenML must-understand field', gauge, [{ n: 'water_level', v: 1, foo_: 1 }], 'senml_unsupported'],
    ['too many readings', gauge, Array.from({ length: 1001 }, () => ({ values: { water_level: 1 } })), 'too_many_readings'],
  ]
  it.each(cases)('%s', async (_name, dev, payload, reason, raw) => {
    const { ingest, sink, rejected, events } = setup()
    await expect(ingest.telemetry(publish(dev, payload, { raw: raw ?? false }))).resolves.toBeUndefined()
    expect(sink.readings()).toHaveLength(0)
    expect(events).toHaveLength(0)
    expect(await rejected(reason)).toBe(1)
    const [rec] = ingest.recentRejects(dev.id)
    expect(rec).toMatchObject({ reason, topic: `devices/${dev.id}/telemetry` })
    expect(rec!.message.length).toBeGreaterThan(10)
    expect(sink.points.some((p) => p.measurement === 'rejects' && p.tags.reason === reason)).toBe(true)
  })

  it('too large payload', async () => {
    const { ingest, rejected } = setup({ config: { maxPayloadBytes: 1024 } })
    await ingest.telemetry(publish(gauge, { values: { water_level: 1 }, pad: 'x'.repeat(2000) }))
    expect(await rejected('too_large')).toBe(1)
  })

  it('a bad element of a batch refuses that element only', async () => {
    const { ingest, sink, rejected } = setup()
    const now = Date.now()
    await ingest.telemetry(
      publish(gauge, [
        { ts: now - 3000, seq: 1, values: { water_level: 1.1 } },
        { ts: now - 2000, seq: 2, values: { water_level: 9999 } },
        { ts: now - 1000, seq: 3, valuez: {} },
        { ts: now, seq: 4, values: { water_level: 1.2 } },
      ]),
    )
    expect(sink.readings().map((p) => p.fields.seq)).toEqual([1, 4])
    expect(await rejected()).toBe(2)
    expect(
      ingest
        .recentRejects(gauge.id)
        .map((r) => r.reason)
        .sort(),
    ).toEqual(['invalid_payload', 'out_of_range'])
  })

  it('keeps only the last N refusals per device', async () => {
    const { ingest } = setup({ config: { rejectsPerDevice: 3 } })
    for (let i = 0; i < 10; i++) await ingest.telemetry(publish(gauge, `bad ${i}`, { raw: true }))
    const recs = ingest.recentRejects(gauge.id)
    expect(recs).toHaveLength(3)
    expect(recs[0]!.excerpt).toBe('bad 9')
  })
})

describe('duplicates, late readings, store failures', () => {
  it('same (device, seq, ts) is stored once, within a message and across messages', async () => {
    const { ingest, sink, events, metrics } = setup()
    const r = { ts: Date.now() - 1000, seq: 5, values: { water_level: 1.5 } }
    await ingest.telemetry(publish(gauge, [r, r]))
    await ingest.telemetry(publish(gauge, r))
    expect(sink.readings()).toHaveLength(1)
    expect(events).toHaveLength(1)
    expect(await metricValue(metrics, 'ingest_duplicates_total')).toBe(2)
    // Same seq, another time (a device restarted its counter): a different reading.
    await ingest.telemetry(publish(gauge, { ...r, ts: r.ts + 1 }))
    expect(sink.readings()).toHaveLength(2)
  })

  it('late and out-of-order readings keep their own time and are marked late', async () => {
    const { ingest, sink, events } = setup()
    const now = Date.now()
    await ingest.telemetry(publish(gauge, { ts: now - 1000, seq: 10, values: { water_level: 1 } }))
    await ingest.telemetry(publish(gauge, { ts: now - 5000, seq: 9, values: { water_level: 0.9 } }))
    await ingest.telemetry(publish(gauge, { ts: now - 3 * 3_600_000, seq: 1, values: { water_level: 0.5 } }))
    expect(events.map((e) => e.late)).toEqual([false, true, true])
    expect(sink.readings().map((p) => p.ts)).toEqual([now - 1000, now - 5000, now - 3 * 3_600_000])
  })

  it('a store failure rejects (no PUBACK), and the resend is then stored once', async () => {
    const { ingest, sink } = setup()
    const msg = publish(gauge, { ts: Date.now(), seq: 1, values: { water_level: 1 } })
    sink.fail = true
    await expect(ingest.telemetry(msg)).rejects.toThrow('store unavailable')
    sink.fail = false
    await ingest.telemetry(msg)
    await ingest.telemetry(msg)
    expect(sink.readings()).toHaveLength(1)
  })

  it('a store failure takes the readings back out of the hourly means (no double count on resend)', async () => {
    const { ingest, sink } = setup()
    const h = Math.floor(Date.now() / 3_600_000) * 3_600_000
    await ingest.telemetry(publish(air, { ts: h - 3_600_000 + 1, seq: 1, values: { pm25: 20 } }))
    const msg = publish(air, { ts: Math.min(h + 1, Date.now()), seq: 2, values: { pm25: 40 } })
    sink.fail = true
    await expect(ingest.telemetry(msg)).rejects.toThrow()
    sink.fail = false
    await ingest.telemetry(msg)
    expect(ingest.hourly.means(air.id, 'pm25', h, 1)).toEqual([40])
    // NowCast of 40 then 20: w = 0.5 → 0.5·40 + 0.25·20 = 25 → sub-index 50.
    expect(sink.readingsWithDerived().at(-1)!.fields.aqi).toBe(50)
  })

  it('a throwing bus consumer does not fail the message', async () => {
    const { ingest, bus, sink } = setup()
    bus.on('reading', () => {
      throw new Error('consumer bug')
    })
    await expect(ingest.telemetry(publish(gauge, { values: { water_level: 1 } }))).resolves.toBeUndefined()
    expect(sink.readings()).toHaveLength(1)
  })
})

describe('derived values', () => {
  it('alarm_level per station levels; a station with unknown levels gets none', async () => {
    const { ingest, sink } = setup()
    const levels = [0.99, 1.0, 1.99, 2.0, 3.49, 3.5, 5]
    for (const [i, v] of levels.entries())
      await ingest.telemetry(publish(gauge, { seq: i, ts: Date.now() - 100 + i, values: { water_level: v } }))
    expect(sink.readingsWithDerived().map((p) => p.fields.alarm_level)).toEqual([0, 1, 1, 2, 2, 3, 3])
    await ingest.telemetry(publish(device('truoi-01', 'water_level', 'truoi'), { values: { water_level: 9 } }))
    await ingest.telemetry(publish(device('x-01', 'water_level', null), { values: { water_level: 9 } }))
    expect(
      sink
        .readingsWithDerived()
        .slice(-2)
        .map((p) => p.fields.alarm_level),
    ).toEqual([undefined, undefined])
  })

  it('rise_rate in m/h over the station window, in event time', async () => {
    const { ingest, sink } = setup()
    const t0 = Date.now() - 3_600_000
    // 0.3 m/h: 0.05 m every 10 minutes over one hour.
    for (let i = 0; i <= 6; i++)
      await ingest.telemetry(publish(gauge, { seq: i, ts: t0 + i * 600_000, values: { water_level: 1 + 0.05 * i } }))
    const rates = sink.readingsWithDerived().map((p) => p.fields.rise_rate)
    expect(rates[0]).toBeUndefined()
    expect(rates[6] as number).toBeCloseTo(0.3, 9)
  })

  it('hourly VN_AQI with the dominant pollutant on air-quality readings', async () => {
    const { ingest, sink, events } = setup()
    const h = Math.floor(Date.now() / 3_600_000) * 3_600_000
    await ingest.telemetry(publish(air, { ts: h - 3_600_000 + 1000, values: { pm25: 20 } }))
    expect(sink.readingsWithDerived()[0]!.fields.aqi).toBeUndefined() // NowCast needs 2 of the last 3 hours
    await ingest.telemetry(publish(air, { ts: Math.min(h + 1000, Date.now()), values: { pm25: 30, no2: 250 } }))
    const p = sink.readingsWithDerived()[1]!
    // NowCast: w = 20/30 = 0.667; (30 + 0.667·20) / 1.667 = 26 → 52; NO2 250 → 105 dominates.
    expect(p.fields.aqi).toBe(105)
    expect(p.fields.aqi_dominant).toBe('no2')
    expect(events[1]).toMatchObject({ aqi_dominant: 'no2', values: { aqi: 105 } })
  })
})

describe('status', () => {
  it('is stored as device_status and announced', async () => {
    const { ingest, sink, bus } = setup()
    const got: unknown[] = []
    bus.on('device-status', (s) => got.push(s))
    await ingest.status(
      publish(
        gauge,
        { online: true, ts: new Date().toISOString(), fw: '1.2.0', uptime: 30, queue_dropped: 4, queue_depth: 10 },
        { subtopic: 'status' },
      ),
    )
    expect(sink.points[0]).toMatchObject({
      measurement: 'device_status',
      fields: { online: 1, fw: '1.2.0', uptime: 30, queue_dropped: 4, queue_depth: 10 },
    })
    expect(got[0]).toMatchObject({ device: 'kim-long-01', online: true, fw: '1.2.0' })
  })
  it('refuses a bad status with its reason', async () => {
    const { ingest, rejected } = setup()
    await ingest.status(publish(gauge, { online: 'yes' }, { subtopic: 'status' }))
    await ingest.status(publish(gauge, 'nope', { subtopic: 'status', raw: true }))
    expect(await rejected('invalid_payload')).toBe(1)
    expect(await rejected('invalid_json')).toBe(1)
  })
})

describe('bounded work in progress', () => {
  it('parses at most maxConcurrentMessages at once; the rest wait, in order, and all are stored', async () => {
    const { ingest, sink, metrics } = setup({ config: { maxConcurrentMessages: 2 } })
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    let writing = 0
    let peak = 0
    const write = sink.write.bind(sink)
    sink.write = async (points) => {
      writing++
      peak = Math.max(peak, writing)
      await gate
      writing--
      return write(points)
    }
    const now = Date.now()
    const all = Array.from({ length: 6 }, (_, i) =>
      ingest.telemetry(publish(gauge, { ts: now - 1000 + i, seq: i, values: { water_level: 1 } })),
    )
    await new Promise((r) => setTimeout(r, 20))
    expect(peak).toBe(2)
    expect(await metricValue(metrics, 'ingest_waiting_messages')).toBe(4)
    release()
    await Promise.all(all)
    expect(sink.readings().map((p) => p.fields.seq)).toEqual([0, 1, 2, 3, 4, 5])
  })
})
