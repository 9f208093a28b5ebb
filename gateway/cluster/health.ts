import type pg from 'pg'
import type { Metrics } from '../metrics/registry.ts'
import { leaseKind, type LeaseManager } from './leases.ts'
import type { Peers } from './peers.ts'

export interface ComponentCheck {
  ok: boolean
  state?: string
  detail?: string
}

export interface ClusterHealthOptions {
  pool: pg.Pool
  leases: LeaseManager
  peers: Peers
  metrics: Metrics
  /** How often PostgreSQL is probed for the metrics (readiness probes on each request too). */
  probeMs: number
}

// /readyz must answer in time for a load balancer's check even while PostgreSQL hangs.
const PROBE_TIMEOUT_MS = 3_000

/**
 * The cluster's part of /readyz (component `postgres`) and /metrics (docs/operations.md
 * "Several nodes" and "Metrics"): whether PostgreSQL answers, how many nodes are live, which
 * leases this node holds.
 */
export class ClusterHealth {
  private up = false
  private detail = 'not probed yet'
  private peerCount = 0
  private timer: NodeJS.Timeout | undefined
  private readonly kinds = new Set<string>()

  constructor(private readonly opts: ClusterHealthOptions) {
    const { metrics, leases } = opts
    metrics.gaugeReading('postgres_up', 'Whether PostgreSQL answered the last probe (1) or not (0)', () => (this.up ? 1 : 0))
    metrics.gaugeReading('cluster_peers', 'Live gateway nodes (heartbeat within the live window), this one included', () => this.peerCount)
    const held = metrics.gauge('cluster_leases_held', 'Leases this node holds now, by kind (the lease name before the first ":")', ['kind'])
    const recount = (): void => {
      const counts = new Map<string, number>()
      for (const name of leases.heldLeases().keys()) counts.set(leaseKind(name), (counts.get(leaseKind(name)) ?? 0) + 1)
      for (const k of counts.keys()) this.kinds.add(k)
      // Kinds seen once stay, at 0, so a lost lease shows as a drop rather than a vanished series.
      for (const k of this.kinds) held.set({ kind: k }, counts.get(k) ?? 0)
    }
    leases.on('acquired', recount)
    leases.on('lost', recount)
  }

  /** Probes now and every probeMs until close(). */
  start(): void {
    void this.probe()
    this.timer = setInterval(() => void this.probe(), this.opts.probeMs)
    this.timer.unref()
  }

  close(): void {
    clearInterval(this.timer)
  }

  /** One round trip to PostgreSQL: the live node count, or why it failed. */
  async probe(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS)
    })
    try {
      const live = await Promise.race([this.opts.peers.livePeers(), timeout])
      this.peerCount = live.length
      this.up = true
      this.detail = ''
    } catch (err) {
      this.up = false
      this.detail = `PostgreSQL unreachable: ${(err as Error).message}`
    } finally {
      clearTimeout(timer)
    }
    return this.up
  }

  /** The `postgres` component of /readyz, probed now. */
  async readiness(): Promise<Record<string, ComponentCheck>> {
    await this.probe()
    if (!this.up) return { postgres: { ok: false, detail: this.detail } }
    const held = this.opts.leases.heldLeases().size
    return { postgres: { ok: true, detail: `${this.peerCount} live node(s); ${held} lease(s) held here` } }
  }
}
