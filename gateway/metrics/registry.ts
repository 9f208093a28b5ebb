import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client'
import { HotHistogram } from './hot-histogram.ts'

/**
 * One Prometheus registry per gateway instance (tests run several in one process). Capabilities
 * create their own metrics on it through these helpers, all prefixed `iocgw_`.
 */
export class Metrics {
  readonly registry = new Registry()

  constructor(opts: { defaults?: boolean } = {}) {
    if (opts.defaults !== false) collectDefaultMetrics({ register: this.registry, prefix: 'iocgw_' })
  }

  /** Increments of hot counters not yet handed to prom-client, per counter. */
  private readonly pending = new Map<Counter<string>, Array<{ labels: Partial<Record<string, string>>; n: number }>>()

  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    const existing = this.registry.getSingleMetric(`iocgw_${name}`)
    if (existing) return existing as Counter<L>
    const pending = this.pending
    return new Counter({
      name: `iocgw_${name}`,
      help,
      labelNames,
      registers: [this.registry],
      // Runs whenever the counter is read (scrape, /metrics, tests): hot increments land first.
      collect(this: Counter<L>) {
        for (const h of pending.get(this as Counter<string>) ?? []) {
          if (h.n === 0) continue
          this.inc(h.labels as Partial<Record<L, string>>, h.n)
          h.n = 0
        }
      },
    })
  }

  /**
   * A counter child for per-message paths: increments are summed in a plain number and handed to
   * prom-client when the counter is read. prom-client validates and hashes the label set on every
   * `inc`, even through a bound `labels()` child, which at tens of thousands of readings a second
   * was a visible share of the gateway's CPU.
   */
  hotCounter<L extends string>(counter: Counter<L>, labels: Partial<Record<L, string>> = {}): { inc(n?: number): void } {
    const h = { labels: labels as Partial<Record<string, string>>, n: 0 }
    const list = this.pending.get(counter as Counter<string>)
    if (list) list.push(h)
    else this.pending.set(counter as Counter<string>, [h])
    return {
      inc(n = 1) {
        h.n += n
      },
    }
  }

  gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    const existing = this.registry.getSingleMetric(`iocgw_${name}`)
    if (existing) return existing as Gauge<L>
    return new Gauge({ name: `iocgw_${name}`, help, labelNames, registers: [this.registry] })
  }

  /**
   * A gauge without labels whose value is read when the gauge is (scrape, /metrics, tests): for
   * values that change per message, where setting a prom-client gauge each time would cost more
   * than the work it measures.
   */
  gaugeReading(name: string, help: string, read: () => number): Gauge {
    const existing = this.registry.getSingleMetric(`iocgw_${name}`)
    if (existing) return existing as Gauge
    return new Gauge({
      name: `iocgw_${name}`,
      help,
      registers: [this.registry],
      collect(this: Gauge) {
        this.set(read())
      },
    })
  }

  histogram<L extends string>(name: string, help: string, labelNames: readonly L[] = [], buckets?: number[]): Histogram<L> {
    const existing = this.registry.getSingleMetric(`iocgw_${name}`)
    if (existing) return existing as Histogram<L>
    return new Histogram({ name: `iocgw_${name}`, help, labelNames, registers: [this.registry], ...(buckets ? { buckets } : {}) })
  }

  /** A histogram observed per message or per reading (see HotHistogram). */
  hotHistogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: readonly number[]): HotHistogram<L> {
    const existing = this.registry.getSingleMetric(`iocgw_${name}`)
    if (existing) {
      if (!(existing instanceof HotHistogram)) throw new Error(`metric iocgw_${name} is already registered as another type`)
      return existing as HotHistogram<L>
    }
    const h = new HotHistogram(`iocgw_${name}`, help, labelNames, buckets)
    // The registry reads any object with name, help, type, get() and reset(); its typings list
    // only prom-client's own classes.
    this.registry.registerMetric(h as unknown as Metric)
    return h
  }

  text(): Promise<string> {
    return this.registry.metrics()
  }
}
