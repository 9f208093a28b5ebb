import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayBus } from '../../gateway/bus/events.ts'
import { createIngest, type Ingest } from '../../gateway/ingest/index.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { openTimeSeriesStore, type Point, type TimeSeriesStore } from '../../gateway/store/index.ts'
import { tempDir } from '../support/services.ts'
import { device, publish } from './helpers.ts'
import { metricValue } from '../support/metrics.ts'

// ≥ 10,000 malformed telemetry messages through the real handler into the real SQLite store:
// every one is refused with a reason, none throws, nothing from them is stored, and good readings
// sent afterwards are stored.

const gauge = device('fuzz-gauge-01', 'water_level', 'kim-long')
const air = device('fuzz-air-01', 'air_quality', null)

/** One defect applied to an otherwise valid reading: the message must be refused for it. */
const defect = fc.oneof(
  fc.record({ values: fc.constant({}) }),
  fc.record({ values: fc.record({ water_level: fc.oneof(fc.string(), fc.boolean(), fc.constant(null), fc.array(fc.integer())) }) }),
  fc.record({
    values: fc.record({
      water_level: fc.oneof(fc.double({ min: 200.0001, max: 1e300, noNaN: true }), fc.double({ max: -20.0001, min: -1e300, noNaN: true })),
    }),
  }),
  fc.record({
    values: fc.dictionary(
      fc.string({ minLength: 1, maxLength: 10 }).filter((k) => !['water_level', 'battery', 'rssi', 'temperature', 'humidity'].includes(k)),
      fc.double(),
      { minKeys: 1, maxKeys: 3 },
    ),
  }),
  fc.record({ values: fc.constant({ rainfall: 1, interval_s: 60 }) }),
  fc.record({ values: fc.constant({ water_level: 1, alarm_level: 2 }) }),
  fc.record({
    ts: fc.oneof(fc.string(), fc.integer({ min: 1, max: 99_999_999_999 }), fc.constant(Date.now() + 3_600_000), fc.constant(-1)),
    values: fc.constant({ water_level: 1 }),
  }),
  fc.record({
    seq: fc.oneof(fc.integer({ max: -1 }), fc.double({ min: 0.1, max: 0.9 }), fc.string()),
    values: fc.constant({ water_level: 1 }),
  }),
  fc.record({ values: fc.constant({ water_level: 1 }), extra: fc.jsonValue() }),
  fc.record({
    values: fc.constant({ battery: 1 }),
    ts: fc.date({ min: new Date(1971, 0, 1), max: new Date(2000, 0, 1), noInvalidDate: true }).map((d) => d.getTime()),
  }),
)

const garbage = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc
    .string({ maxLength: 200 })
    .filter((s) => !s.includes('values'))
    .map((s) => Buffer.from(s)),
  fc
    .json({ maxDepth: 3 })
    .filter((s) => !s.includes('values') && !s.includes('"n"') && !s.includes('"bn"'))
    .map((s) => Buffer.from(s)),
  fc.array(defect, { minLength: 1, maxLength: 5 }).map((a) => Buffer.from(JSON.stringify(a))),
  defect.map((d) => Buffer.from(JSON.stringify(d))),
  defect.map((d) => Buffer.from(JSON.stringify(d).replace(/"water_level":1/, '"water_level":1e999'))),
  // Names no metric has (SenML names are read case-insensitively after their last `:` or `/`, so a
  // bare random name could be one: `cO` in ppb is carbon monoxide).
  fc
    .array(
      fc.record({
        n: fc.string({ maxLength: 8 }).map((n) => `zz${n.replace(/[:/]/g, '')}`),
        u: fc.constantFrom('furlong', 'ppb', 'Cel', 'kg'),
        v: fc.double({ noNaN: true }),
      }),
      { minLength: 1, maxLength: 4 },
    )
    .map((a) => Buffer.from(JSON.stringify(a))),
  fc.constant(Buffer.from('{"values": {"water_level": 1}'.repeat(1))),
)

describe('fuzz: malformed telemetry through the real handler and store', () => {
  const dir = tempDir()
  let store: TimeSeriesStore
  let ingest: Ingest
  let metrics: Metrics
  const written = { readings: 0, rejects: 0 }

  beforeAll(async () => {
    metrics = new Metrics({ defaults: false })
    const logger = createLogger('silent')
    const real = await openTimeSeriesStore({ dataDir: dir.path, logger, metrics })
    store = real
    const counting = {
      write: (points: readonly Point[]) => {
        for (const p of points) {
          if (p.measurement === 'readings') written.readings++
          if (p.measurement === 'rejects') written.rejects++
        }
        return real.write(points)
      },
    }
    ingest = createIngest({ store: counting, bus: new GatewayBus(), logger, metrics })
  })
  afterAll(async () => {
    await store.close()
    dir.remove()
  })

  it('refuses 10,000+ malformed messages, each with a reason, without throwing, and stores good readings after them', async () => {
    let messages = 0
    await fc.assert(
      fc.asyncProperty(garbage, fc.boolean(), async (payload, onAir) => {
        const dev = onAir ? air : gauge
        const before = { ...written }
        const rejectsBefore = ingest.recentRejects(dev.id)[0]
        await ingest.telemetry(publish(dev, payload))
        messages++
        expect(written.readings).toBe(before.readings)
        expect(written.rejects).toBeGreaterThan(before.rejects)
        const newest = ingest.recentRejects(dev.id)[0]
        expect(newest).toBeDefined()
        expect(newest).not.toBe(rejectsBefore)
        expect(newest!.reason).toMatch(/^[a-z_]+$/)
        expect(newest!.message.length).toBeGreaterThan(5)
      }),
      { numRuns: 10_500 },
    )
    expect(messages).toBeGreaterThanOrEqual(10_000)
    expect(await metricValue(metrics, 'ingest_rejected_total')).toBe(written.rejects)

    const t0 = Date.now() - 10_000
    for (let i = 0; i < 20; i++) await ingest.telemetry(publish(gauge, { ts: t0 + i * 100, seq: i, values: { water_level: 1 + i / 100 } }))
    const stored = await store.readings({ device: gauge.id, metric: 'water_level', from: t0, to: Date.now() + 1, limit: 1000 })
    expect(stored.map((p) => p.value)).toEqual(Array.from({ length: 20 }, (_, i) => 1 + i / 100))
  }, 300_000)
})
