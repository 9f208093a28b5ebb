// What /readyz and the start-up notice say about the time-series store beyond its own check.
import type { StoreHealth } from './types.ts'

/**
 * One /readyz check per InfluxDB server when there are several (`influx.urls`), named
 * `influx <host:port/database>`: ok while it takes writes durably (itself or its spool), `state`
 * up, down or draining, what its spool holds, and whether reads go to it (docs/operations.md "InfluxDB pair").
 */
export function influxTargetChecks(h: StoreHealth): Record<string, { ok: boolean; state: string; detail: string }> {
  const out: Record<string, { ok: boolean; state: string; detail: string }> = {}
  for (const t of h.targets ?? []) {
    out[`influx ${t.name}`] = {
      ok: t.ok,
      state: t.state,
      detail: `${t.detail}${t.state === 'up' ? '' : ` (${t.spool.bytes} bytes)`}${t.reads ? '; reads go here' : ''}`,
    }
  }
  return out
}

/** The time-series store in the start-up notice, without credentials. */
export function timeSeriesLine(influx: { url?: string | undefined; urls?: readonly string[] | undefined }): string {
  const urls = influx.urls ?? (influx.url ? [influx.url] : [])
  if (urls.length === 0) return 'SQLite'
  const shown = urls.map((u) => {
    try {
      const x = new URL(u)
      x.username = ''
      x.password = ''
      return x.toString()
    } catch {
      return u
    }
  })
  return `InfluxDB ${shown.join(', ')}`
}
