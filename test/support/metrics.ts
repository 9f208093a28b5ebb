import type { Metrics } from '../../gateway/metrics/registry.ts'

/**
 * The value of the counter or gauge `iocgw_{name}`, summed over its series whose labels include
 * `labels` (every series when none are given); 0 while nothing is recorded.
 */
export async function metricValue(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = metrics.registry.getSingleMetric(`iocgw_${name}`)
  if (!metric) return 0
  const { values } = await metric.get()
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0)
}
