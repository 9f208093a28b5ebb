import type { Metrics } from '../metrics/registry.ts'

/** The labels every series of the store has (`target` set only when there are several InfluxDB servers). */
const LABELS = ['backend', 'target'] as const

/**
 * Counters and gauges of the time-series store, labelled by backend, and by `target` (the InfluxDB
 * server) when the store writes to several.
 */
export function storeMetrics(metrics: Metrics, backend: 'sqlite' | 'influx', target?: string) {
  const written = metrics.counter(
    'store_points_written_total',
    'Points made durable in the time-series store (including its disk spool)',
    LABELS,
  )
  const delivered = metrics.counter('store_points_delivered_total', 'Points accepted by the time-series database itself', LABELS)
  const failures = metrics.counter('store_write_failures_total', 'Failed writes to the time-series database, by reason', [
    ...LABELS,
    'reason',
  ])
  const dropped = metrics.counter('store_points_rejected_total', 'Points the database refused as invalid (not retried)', LABELS)
  const latency = metrics.hotHistogram(
    'store_write_seconds',
    'Time from write() to durable, seconds',
    LABELS,
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  )
  const spoolPoints = metrics.gauge('store_spool_points', 'Points waiting in the disk spool for InfluxDB', LABELS)
  const spoolBytes = metrics.gauge('store_spool_bytes', 'Bytes waiting in the disk spool for InfluxDB', LABELS)
  const expired = metrics.counter(
    'store_points_expired_total',
    'Samples deleted by the retention sweep (SQLite; InfluxDB expires its own by policy)',
    LABELS,
  )
  const degraded = metrics.gauge('store_degraded', '1 while the time-series database is unreachable and writes go to the spool', LABELS)
  const spilled = metrics.counter(
    'store_spilled_requests_total',
    'Write requests InfluxDB had not answered within spillAfterMs, acknowledged once in the spill journal',
    LABELS,
  )
  const recomputes = metrics.counter(
    'store_rollup_recompute_queries_total',
    'Rollup recomputations for points that reached InfluxDB after their buckets were computed, by result',
    [...LABELS, 'result'],
  )
  const recomputePending = metrics.gauge(
    'store_rollup_recompute_pending',
    'Series with late points whose rollups wait to be recomputed',
    LABELS,
  )
  const l = target === undefined ? { backend } : { backend, target }
  // These run for every write.
  const writtenB = metrics.hotCounter(written, l)
  const deliveredB = metrics.hotCounter(delivered, l)
  // Without a target (SQLite, one InfluxDB) the series carries no target label, as before there were several.
  const latencyB = latency.labels(l as Record<'backend' | 'target', string>)
  return {
    written: (n: number) => writtenB.inc(n),
    delivered: (n: number) => deliveredB.inc(n),
    failure: (reason: string) => failures.inc({ ...l, reason }),
    rejected: (n: number) => dropped.inc(l, n),
    latency: (seconds: number) => latencyB.observe(seconds),
    spool: (points: number, bytes: number) => {
      spoolPoints.set(l, points)
      spoolBytes.set(l, bytes)
    },
    degraded: (on: boolean) => degraded.set(l, on ? 1 : 0),
    expired: (n: number) => expired.inc(l, n),
    spilled: () => spilled.inc(l),
    recompute: (ok: boolean) => recomputes.inc({ ...l, result: ok ? 'ok' : 'failed' }),
    recomputePending: (series: number) => recomputePending.set(l, series),
  }
}

export type StoreMetrics = ReturnType<typeof storeMetrics>
