import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * One Prometheus registry per gateway instance (tests run several in one process). Capabilities
 * create their own metrics on it through these helpers, all prefixed `iocgw_`.
 */
export class Metrics {
  readonly registry = new Registry()

  constructor(opts: { defaults?: boolean } = {}) {
    if (opts.defaults !== false) collectDefaultMetrics({ register: this.registry, prefix: 'iocgw_' })
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    const existing = this.registry.getSingleMetric(`iocgw_${name}`)
    if (existing) return existing as Counter<L>
    return new Counter({ name: `iocgw_${name}`, help, labelNames, registers: [this.registry] })
  }

  gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    const existing = this.registry.getSingleMetric(`iocgw_${name}`)
    if (existing) return existing as Gauge<L>
    return new Gauge({ name: `iocgw_${name}`, help, labelNames, registers: [this.registry] })
  }

  histogram<L extends string>(name: string, help: string, labelNames: readonly L[] = [], buckets?: number[]): Histogram<L> {
    const existing = this.registry.getSingleMetric(`iocgw_${name}`)
    if (existing) return existing as Histogram<L>
    return new Histogram({ name: `iocgw_${name}`, help, labelNames, registers: [this.registry], ...(buckets ? { buckets } : {}) })
  }

  text(): Promise<string> {
    return this.registry.metrics()
  }
}
