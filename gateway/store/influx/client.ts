// The InfluxDB 1.x HTTP client as the store builds it from its URL, and one InfluxQL query with the
// store's error mapping: shared by the store (state.ts, queries.ts) and the export worker
// (gateway/exports/worker.ts), which runs its own queries off the main thread.
import { InfluxDB } from 'influx'
import { StoreError } from '../types.ts'

export interface Row {
  series?: Array<{ name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }>
  error?: string
}

/** `http://[user:pass@]host:8086/<database>` to a client and its database. */
export function influxClient(url: string, requestTimeoutMs: number): { influx: InfluxDB; database: string } {
  const u = new URL(url)
  const database = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, ''))
  if (!database) throw new StoreError('invalid', `influx URL ${u.origin} names no database: use http://host:8086/<database>`)
  const influx = new InfluxDB({
    host: u.hostname,
    port: Number(u.port || (u.protocol === 'https:' ? 443 : 8086)),
    protocol: u.protocol === 'https:' ? 'https' : 'http',
    database,
    username: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    // The package's pool disables a host for a growing while after a failure; keep that short so
    // queries work again as soon as InfluxDB is back.
    pool: { maxRetries: 0, requestTimeout: requestTimeoutMs, backoff: constantBackoff(250) },
  })
  return { influx, database }
}

/** One query's first result; a database not created yet reads as empty. */
export async function influxQuery(influx: InfluxDB, database: string, query: string, method: 'GET' | 'POST' = 'GET'): Promise<Row> {
  let res: { results: Row[] }
  try {
    res = (await influx.queryRaw(query, { precision: 'ms' as never, database, method })) as { results: Row[] }
  } catch (err) {
    throw new StoreError('unavailable', `InfluxDB query failed: ${(err as Error).message}`)
  }
  const r = res.results[0] ?? {}
  if (r.error) {
    if (/database not found/.test(r.error)) return {}
    throw new StoreError('invalid', `InfluxDB query failed: ${r.error}`)
  }
  return r
}

function constantBackoff(ms: number) {
  const b = { getDelay: () => ms, next: () => b, reset: () => b }
  return b
}
