// The InfluxDB servers of one store: InfluxDB 1.x open source has no clustering, so the gateway
// writes every point to each server itself (as influxdb-relay does) and reads from one.
//
// - Layout: each server gets its own spool, spill journal and late-rollup journal in the data dir.
//   One URL keeps the layout of a single server (`influx-spool/`, `influx-spill/`,
//   `influx-late-rollups.jsonl`), so an upgrade finds its journals; several put each server's in
//   a folder named after it (`influx-spool/<name>/`, `influx-spill/<name>/`,
//   `influx-late-rollups/<name>.jsonl`).
// - Reads go to the first server, in list order, fit for reads (state.ts `readable`: reachable and
//   nothing left in its journals); a server still draining would answer with a gap, so it is
//   chosen only when none is fit. A read that cannot reach its server is tried on the next.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Gauge } from 'prom-client'
import type { Logger } from '../../log/logger.ts'
import type { Metrics } from '../../metrics/registry.ts'
import { StoreError } from '../types.ts'
import { influxClient } from './client.ts'
import type { InfluxStoreOptions, TargetLayout } from './state.ts'
import type { InfluxTarget } from './target.ts'

/** The URLs of the options: exactly one of `url` and `urls`, each naming a database. */
export function targetUrls(opts: Pick<InfluxStoreOptions, 'url' | 'urls'>): string[] {
  if (opts.url !== undefined && opts.urls !== undefined)
    throw new StoreError('invalid', 'influx.url and influx.urls are both set: give one InfluxDB as influx.url, or several as influx.urls')
  const urls = opts.urls !== undefined ? [...opts.urls] : opts.url !== undefined ? [opts.url] : []
  if (urls.length === 0) throw new StoreError('invalid', 'influx.urls lists no InfluxDB URL')
  return urls
}

/** `host:port/database` of a URL, without its credentials. */
export function targetName(url: string): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new StoreError('invalid', `influx URL "${url}" is not a URL: use http://host:8086/<database>`)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new StoreError('invalid', `influx URL ${u.origin}: only http:// and https://`)
  const { database } = influxClient(url, 1000)
  return `${u.hostname}:${u.port || (u.protocol === 'https:' ? 443 : 8086)}/${database}`
}

/** Each URL's name and journal places in `dataDir` (see the layout above). */
export function targetLayouts(urls: readonly string[], dataDir: string): TargetLayout[] {
  if (urls.length === 1) {
    const url = urls[0]!
    const layout = {
      name: targetName(url),
      url,
      spoolDir: join(dataDir, 'influx-spool'),
      spillDir: join(dataDir, 'influx-spill'),
      lateFile: join(dataDir, 'influx-late-rollups.jsonl'),
      labelled: false,
    }
    refuseStranded(dataDir, 'single')
    return [layout]
  }
  const seen = new Map<string, string>()
  const layouts = urls.map((url, i) => {
    const name = targetName(url)
    const dir = name.replace(/[^A-Za-z0-9._-]/g, '_')
    const before = seen.get(dir)
    if (before !== undefined) throw new StoreError('invalid', `influx.urls[${i}] names the same database as ${before} (${name})`)
    seen.set(dir, `influx.urls[${i}]`)
    return {
      name,
      url,
      spoolDir: join(dataDir, 'influx-spool', dir),
      spillDir: join(dataDir, 'influx-spill', dir),
      lateFile: join(dataDir, 'influx-late-rollups', `${dir}.jsonl`),
      labelled: true,
    }
  })
  refuseStranded(dataDir, 'several', new Set(seen.keys()))
  return layouts
}

/**
 * Points acknowledged and not yet delivered, left by a start with the other layout (one URL then,
 * several now, or a server dropped from the list), would never be read: the start is refused
 * rather than leaving them behind unsaid.
 */
function refuseStranded(dataDir: string, now: 'single' | 'several', names: ReadonlySet<string> = new Set()): void {
  for (const journal of ['influx-spool', 'influx-spill']) {
    const dir = join(dataDir, journal)
    if (!existsSync(dir)) continue
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      const stranded =
        now === 'several'
          ? (entry.isFile() && entry.name.endsWith('.seg') && statSync(path).size > 0) ||
            (entry.isDirectory() && !names.has(entry.name) && holdsPoints(path))
          : entry.isDirectory() && holdsPoints(path)
      if (!stranded) continue
      const what = entry.isDirectory() ? `${path} (InfluxDB ${entry.name})` : `${dir} (the single InfluxDB of influx.url)`
      throw new StoreError(
        'invalid',
        `${what} holds points acknowledged and not yet delivered: list that server again in the influx config so they drain, or delete the folder to give them up`,
      )
    }
  }
}

function holdsPoints(dir: string): boolean {
  return readdirSync(dir).some((f) => f.endsWith('.seg') && statSync(join(dir, f)).size > 0)
}

/** Picks the server reads go to, and moves them when it fails. */
export class ReadRouter {
  private current: InfluxTarget | undefined
  private readonly gauge: Gauge<'target'>

  constructor(
    private readonly targets: readonly InfluxTarget[],
    metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.gauge = metrics.gauge('influx_reads', '1 for the InfluxDB server reads go to, per target', ['target'])
    for (const t of targets) this.gauge.set({ target: t.name }, 0)
    this.pick()
  }

  /** The servers in the order a read tries them: fit for reads, then reachable, then the rest, each in list order. */
  private order(): InfluxTarget[] {
    const open = this.targets.filter((t) => !t.s.closed)
    const fit = open.filter((t) => t.s.readable)
    const reachable = open.filter((t) => !t.s.readable && t.s.reachable)
    const rest = open.filter((t) => !t.s.readable && !t.s.reachable)
    return [...fit, ...reachable, ...rest]
  }

  /** The server reads go to now. */
  pick(): InfluxTarget {
    const t = this.order()[0] ?? this.targets[0]!
    if (t !== this.current) {
      if (this.current) {
        this.gauge.set({ target: this.current.name }, 0)
        this.logger.info({ target: t.name, from: this.current.name }, 'InfluxDB reads move to another server')
      }
      this.gauge.set({ target: t.name }, 1)
      this.current = t
    }
    return t
  }

  /**
   * Runs a read on the server picked; when that server cannot be reached (StoreError
   * 'unavailable'), it is marked so and the read runs on the next one. One server: as is.
   */
  async read<T>(fn: (t: InfluxTarget) => Promise<T>): Promise<T> {
    if (this.targets.length === 1) return fn(this.targets[0]!)
    const tried = new Set<InfluxTarget>()
    let t = this.pick()
    for (;;) {
      tried.add(t)
      try {
        return await fn(t)
      } catch (err) {
        if (!(err instanceof StoreError) || err.code !== 'unavailable') throw err
        t.unreachable(err)
        const next = this.order().find((o) => !tried.has(o))
        if (next === undefined) throw err
        this.logger.warn({ err: err.message, target: t.name, next: next.name }, 'InfluxDB read failed; trying the next server')
        t = next
      }
    }
  }
}
