import { describe, expect, it } from 'vitest'
import { Metrics } from '../../gateway/metrics/registry.ts'

describe('hot counters', () => {
  it('hand their sums to prom-client whenever the counter is read, per label set', async () => {
    const metrics = new Metrics({ defaults: false })
    const c = metrics.counter('things_total', 'Things', ['kind'])
    const a = metrics.hotCounter(c, { kind: 'a' })
    const b = metrics.hotCounter(c, { kind: 'b' })
    a.inc()
    a.inc(4)
    b.inc(2)
    c.inc({ kind: 'a' }, 10) // ordinary increments still add up with the hot ones
    expect(await metrics.text()).toContain('iocgw_things_total{kind="a"} 15')
    expect(await metrics.text()).toContain('iocgw_things_total{kind="b"} 2')
    a.inc()
    // Read twice: nothing counted twice, nothing lost.
    expect(await metrics.text()).toContain('iocgw_things_total{kind="a"} 16')
    expect((await c.get()).values.find((v) => v.labels.kind === 'b')?.value).toBe(2)
  })

  it('work without labels', async () => {
    const metrics = new Metrics({ defaults: false })
    const c = metrics.counter('plain_total', 'Plain')
    const h = metrics.hotCounter(c)
    for (let i = 0; i < 1000; i++) h.inc()
    expect(await metrics.text()).toContain('iocgw_plain_total 1000')
  })
})
