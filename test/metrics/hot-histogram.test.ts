import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Metrics } from '../../gateway/metrics/registry.ts'

// A hot histogram must read exactly like prom-client's own histogram fed the same observations.

const BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5]

describe('hot histograms', () => {
  it('expose what prom-client exposes for the same observations, per label set (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.constantFrom('telemetry', 'status', 'frames'),
            fc.oneof(fc.double({ min: 0, max: 5, noNaN: true }), fc.constantFrom(...BUCKETS, 0, 10)),
          ),
          { maxLength: 200 },
        ),
        async (observations) => {
          const theirs = new Metrics({ defaults: false })
          const ours = new Metrics({ defaults: false })
          const ref = theirs.histogram('handler_seconds', 'Handler time', ['topic'], BUCKETS)
          const hot = ours.hotHistogram('handler_seconds', 'Handler time', ['topic'], BUCKETS)
          for (const [topic, v] of observations) {
            ref.observe({ topic }, v)
            hot.labels({ topic }).observe(v)
          }
          const sorted = (text: string) => text.split('\n').sort()
          expect(sorted(await ours.text())).toEqual(sorted(await theirs.text()))
          expect(await ours.registry.getMetricsAsJSON()).toEqual(await theirs.registry.getMetricsAsJSON())
        },
      ),
      { numRuns: 300 },
    )
  })

  it('counts a value above every bound only in +Inf, and starts again from zero on reset', async () => {
    const metrics = new Metrics({ defaults: false })
    const h = metrics.hotHistogram('write_seconds', 'Write time', ['backend'], [0.1, 1])
    const influx = h.labels({ backend: 'influx' })
    influx.observe(0.05)
    influx.observe(7)
    const text = await metrics.text()
    expect(text).toContain('iocgw_write_seconds_bucket{le="0.1",backend="influx"} 1')
    expect(text).toContain('iocgw_write_seconds_bucket{le="1",backend="influx"} 1')
    expect(text).toContain('iocgw_write_seconds_bucket{le="+Inf",backend="influx"} 2')
    expect(text).toContain('iocgw_write_seconds_sum{backend="influx"} 7.05')
    metrics.registry.resetMetrics()
    influx.observe(0.5)
    expect(await metrics.text()).toContain('iocgw_write_seconds_count{backend="influx"} 1')
  })

  it('refuses what prom-client refuses: unknown labels, le, values that are not finite', () => {
    const metrics = new Metrics({ defaults: false })
    const h = metrics.hotHistogram('x_seconds', 'X', ['topic'], [1])
    expect(() => h.labels({ topic: 'a', other: 'b' } as never)).toThrow(/other/)
    expect(() => metrics.hotHistogram('y_seconds', 'Y', ['le'], [1])).toThrow(/reserved/)
    expect(() => h.labels({ topic: 'a' }).observe(Number.NaN)).toThrow(/not a valid number/)
    expect(metrics.hotHistogram('x_seconds', 'X', ['topic'], [1])).toBe(h)
    metrics.counter('c_total', 'C')
    expect(() => metrics.hotHistogram('c_total', 'C', [], [1])).toThrow(/another type/)
  })
})
