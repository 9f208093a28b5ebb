import type pg from 'pg'
import type { Logger } from '../log/logger.ts'

export interface PeerRow {
  nodeId: string
  startedAt: Date
  lastSeen: Date
  version: string
  address: string | null
}

export interface PeersOptions {
  pool: pg.Pool
  nodeId: string
  logger: Logger
  /** The gateway's version (package.json), shown to operators next to each node. */
  version: string
  /** Where other nodes and operators reach this node (host:port of its HTTP API); optional. */
  address?: string
  /** How often start() writes the heartbeat; unset when the lease rounds drive heartbeat(). */
  heartbeatMs?: number
  /**
   * A node whose heartbeat is older than this is not live. The lease manager divides partitions
   * by the live count, so a dead node must stop being counted no later than its leases expire:
   * with the heartbeat sent in each lease round just before the renewal, that is ttl - renewMs
   * (docs/operations.md "PostgreSQL and leases").
   */
  liveWindowMs: number
}

/**
 * This node's heartbeat in `cluster_nodes` and the list of live nodes. Liveness is judged by the
 * database's clock (now()), never by comparing node clocks.
 */
export class Peers {
  private timer: NodeJS.Timeout | undefined
  private startedAt: Date | undefined
  private lastOk = false
  private closed = false

  constructor(private readonly opts: PeersOptions) {}

  /** Whether the last heartbeat reached PostgreSQL. */
  get healthy(): boolean {
    return this.lastOk
  }

  /** Writes one heartbeat; false (logged) when PostgreSQL could not be reached. */
  async heartbeat(): Promise<boolean> {
    const o = this.opts
    try {
      const res = await o.pool.query<{ started_at: Date }>(
        `INSERT INTO cluster_nodes (node_id, started_at, last_seen, version, address)
         VALUES ($1, COALESCE($2, now()), now(), $3, $4)
         ON CONFLICT (node_id) DO UPDATE
           SET started_at = COALESCE($2, now()), last_seen = now(), version = EXCLUDED.version, address = EXCLUDED.address
         RETURNING started_at`,
        [o.nodeId, this.startedAt ?? null, o.version, o.address ?? null],
      )
      this.startedAt ??= res.rows[0]?.started_at
      if (!this.lastOk) o.logger.info({ nodeId: o.nodeId }, 'cluster: heartbeat reaches postgres')
      this.lastOk = true
    } catch (err) {
      if (this.lastOk || this.startedAt === undefined)
        o.logger.warn({ err: { message: (err as Error).message }, nodeId: o.nodeId }, 'cluster: heartbeat failed')
      this.lastOk = false
    }
    return this.lastOk
  }

  /** Heartbeats now and then every heartbeatMs until close(). */
  async start(): Promise<void> {
    await this.heartbeat()
    const every = this.opts.heartbeatMs
    if (every === undefined) return
    const loop = (): void => {
      if (this.closed) return
      this.timer = setTimeout(() => void this.heartbeat().finally(loop), every)
      this.timer.unref()
    }
    loop()
  }

  /** Nodes whose heartbeat is within the live window, this one included once it has beaten. */
  async livePeers(): Promise<PeerRow[]> {
    const res = await this.opts.pool.query<{
      node_id: string
      started_at: Date
      last_seen: Date
      version: string
      address: string | null
    }>(
      `SELECT node_id, started_at, last_seen, version, address FROM cluster_nodes
       WHERE last_seen > now() - $1 * interval '1 millisecond' ORDER BY node_id`,
      [this.opts.liveWindowMs],
    )
    return res.rows.map((r) => ({
      nodeId: r.node_id,
      startedAt: r.started_at,
      lastSeen: r.last_seen,
      version: r.version,
      address: r.address,
    }))
  }

  /**
   * Stops heart-beating. With `leave`, deletes this node's row so the others stop counting it at
   * once (a clean shutdown) instead of after the live window.
   */
  async close(leave = true): Promise<void> {
    this.closed = true
    clearTimeout(this.timer)
    if (!leave) return
    await this.opts.pool.query('DELETE FROM cluster_nodes WHERE node_id = $1', [this.opts.nodeId]).catch(() => undefined)
  }
}
