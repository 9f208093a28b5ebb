import { EventEmitter } from 'node:events'
import { performance } from 'node:perf_hooks'
import type pg from 'pg'
import type { Logger } from '../log/logger.ts'

// Named leases in PostgreSQL (table cluster_leases, gateway/cluster/migrations.ts), held by one node
// at a time: docs/operations.md "Several nodes", "PostgreSQL and leases".
//
// - Expiry is set and compared with the database's clock (now()); node clocks never meet.
// - The holder also keeps a local deadline on its monotonic clock, started BEFORE each renewal is
//   sent: it gives the lease up (event `lost`) no later than the database would let another node
//   take it, even when PostgreSQL cannot be reached to say so.
// - Every acquisition raises the lease's fencing token; a writer that checks the token (fenceCheck)
//   refuses an owner that was taken over and has not noticed yet.

export const DEFAULT_LEASE_TTL_MS = 10_000

export type LeaseLostReason = 'released' | 'expired' | 'unreachable' | 'closing'

export interface LeaseEvents {
  acquired: [name: string, token: number]
  lost: [name: string, reason: LeaseLostReason]
}

export interface LeaseManagerOptions {
  pool: pg.Pool
  nodeId: string
  logger: Logger
  /** How long a lease lasts without renewal (default 10 s). */
  ttlMs?: number
  /** How often held leases are renewed and groups balanced (default ttl/3). */
  renewMs?: number
  /** Live nodes sharing balanced groups (this one included): partitions are divided by it. */
  livePeerCount: () => Promise<number>
  /**
   * Runs first in every round (the node's heartbeat, gateway/cluster/peers.ts): beating in the same
   * round as the renewal, just before it, means a node that stops renewing also stops being counted
   * live by the time its leases expire, so the others' shares grow in time to take them.
   */
  heartbeat?: () => Promise<unknown>
}

interface Held {
  token: number
  /** performance.now() after which this node no longer counts on the lease. */
  deadline: number
}

/** The lease's kind for metrics and logs: the part of its name before the first ':'. */
export function leaseKind(name: string): string {
  const i = name.indexOf(':')
  return i < 0 ? name : name.slice(0, i)
}

/**
 * Inside a writer's transaction: whether `token` is still the current holder's token of `name`.
 * FOR SHARE keeps a takeover (which updates the row) waiting until the write commits, so a write
 * that passed the check cannot interleave with a newer owner's.
 */
export async function fenceCheck(client: pg.ClientBase, name: string, token: number): Promise<boolean> {
  return (await staleFences(client, [{ name, token }])).length === 0
}

/** fenceCheck for several leases in one statement: those of `fences` whose token is no longer current. */
export async function staleFences<F extends { name: string; token: number }>(client: pg.ClientBase, fences: readonly F[]): Promise<F[]> {
  if (fences.length === 0) return []
  const res = await client.query<{ name: string; token: string }>(
    `SELECT l.name, l.token FROM cluster_leases AS l
     JOIN unnest($1::text[], $2::bigint[]) AS f(name, token) ON l.name = f.name AND l.token = f.token
     WHERE l.holder IS NOT NULL AND l.expires_at > now() FOR SHARE OF l`,
    [fences.map((f) => f.name), fences.map((f) => f.token)],
  )
  const current = new Set(res.rows.map((r) => `${r.name}\u0000${r.token}`))
  return fences.filter((f) => !current.has(`${f.name}\u0000${f.token}`))
}

export class LeaseManager extends EventEmitter<LeaseEvents> {
  readonly ttlMs: number
  readonly renewMs: number
  private readonly held = new Map<string, Held>()
  private readonly groups = new Map<string, readonly string[]>()
  private timer: NodeJS.Timeout | undefined
  private ticking: Promise<void> | undefined
  private closed = false
  private lastTickOk = false

  constructor(private readonly opts: LeaseManagerOptions) {
    super()
    this.ttlMs = opts.ttlMs ?? DEFAULT_LEASE_TTL_MS
    this.renewMs = opts.renewMs ?? Math.floor(this.ttlMs / 3)
    if (this.renewMs >= this.ttlMs) throw new Error('leases: renewMs must be shorter than ttlMs')
  }

  /** Whether the last round trip (renew and balance) reached PostgreSQL. */
  get healthy(): boolean {
    return this.lastTickOk
  }

  /** Names of the leases this node holds now, with their fencing tokens. */
  heldLeases(): Map<string, number> {
    return new Map([...this.held].map(([n, h]) => [n, h.token]))
  }

  /**
   * The fencing token when this node holds `name` now, else undefined. Past the local deadline it
   * is undefined even before the next round drops the lease: a process resumed after a pause may
   * run other callbacks (messages that waited in its sockets) before that round's timer.
   */
  token(name: string): number | undefined {
    const h = this.held.get(name)
    return h && performance.now() < h.deadline ? h.token : undefined
  }

  /**
   * The node holding each of `names` now, as PostgreSQL has it (live, unexpired holders only): who
   * to send a lease's work to. Another node's hold may end any moment after, so the answer is a
   * hint; the work's receiver checks its own token.
   */
  async holders(names: readonly string[]): Promise<Map<string, string>> {
    const res = await this.opts.pool.query<{ name: string; holder: string }>(
      `SELECT name, holder FROM cluster_leases WHERE name = ANY($1::text[]) AND holder IS NOT NULL AND expires_at > now()`,
      [names],
    )
    return new Map(res.rows.map((r) => [r.name, r.holder]))
  }

  /**
   * Claims a fair share of `names` on every round: at most ceil(names/live nodes), releasing the
   * surplus when more nodes are live than when they were taken. Every node must balance the same
   * groups, or the share left to absent claimants stays unowned.
   */
  balance(group: string, names: readonly string[]): void {
    this.groups.set(group, [...new Set(names)])
  }

  /** One attempt to take `name`; its token when taken (it is then renewed until released). */
  async acquire(name: string): Promise<number | null> {
    const have = this.held.get(name)
    if (have) return have.token
    const sentAt = performance.now()
    // Free, expired, or held by an earlier run of this node (same node id, not in this process):
    // the new token fences that earlier run out.
    const res = await this.opts.pool.query<{ token: string }>(
      `INSERT INTO cluster_leases AS l (name, holder, token, expires_at, acquired_at, renewed_at)
       VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond', now(), now())
       ON CONFLICT (name) DO UPDATE
         SET holder = EXCLUDED.holder, token = l.token + 1, expires_at = EXCLUDED.expires_at,
             acquired_at = now(), renewed_at = now()
         WHERE l.holder IS NULL OR l.expires_at <= now() OR l.holder = EXCLUDED.holder
       RETURNING token`,
      [name, this.opts.nodeId, this.ttlMs],
    )
    const row = res.rows[0]
    if (!row) return null
    const token = Number(row.token)
    if (this.closed) {
      await this.releaseInDb([[name, token]])
      return null
    }
    this.held.set(name, { token, deadline: sentAt + this.ttlMs })
    this.opts.logger.info({ lease: name, token }, 'cluster: lease acquired')
    this.emit('acquired', name, token)
    return token
  }

  /** Gives `name` up at once (event `lost` first, so its work stops before another node starts). */
  async release(name: string): Promise<void> {
    const h = this.held.get(name)
    if (!h) return
    this.drop(name, 'released')
    await this.releaseInDb([[name, h.token]])
  }

  /** Starts the renew-and-balance rounds (one now, then every renewMs). */
  start(): void {
    if (this.timer) return
    this.round()
    this.timer = setInterval(() => this.round(), this.renewMs)
    this.timer.unref()
  }

  /** Stops the rounds; releases every held lease unless told not to (a crash keeps them until expiry). */
  async close(opts: { release?: boolean } = {}): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    await this.ticking
    const held = [...this.held].map(([n, h]) => [n, h.token] as [string, number])
    for (const [n] of held) this.drop(n, 'closing')
    if (opts.release !== false && held.length > 0) await this.releaseInDb(held)
  }

  /** A round unless one is still running; local deadlines are checked either way. */
  private round(): void {
    this.expireLocally()
    if (this.ticking || this.closed) return
    this.ticking = this.tick()
      .then(
        () => {
          if (!this.lastTickOk) this.opts.logger.info({ nodeId: this.opts.nodeId }, 'cluster: leases reach postgres again')
          this.lastTickOk = true
        },
        (err: unknown) => {
          if (this.lastTickOk)
            this.opts.logger.warn(
              { err: { message: (err as Error).message } },
              'cluster: lease round failed; leases lapse at their deadline',
            )
          this.lastTickOk = false
        },
      )
      .finally(() => {
        this.ticking = undefined
        this.expireLocally()
      })
  }

  /** Renews what is held, then claims or sheds each group's share. */
  async tick(): Promise<void> {
    await this.opts.heartbeat?.()
    await this.renew()
    if (this.groups.size === 0) return
    const live = Math.max(1, await this.opts.livePeerCount())
    for (const [, names] of this.groups) {
      if (this.closed) return
      await this.balanceGroup(names, live)
    }
  }

  private async renew(): Promise<void> {
    if (this.held.size === 0) return
    const entries = [...this.held]
    const sentAt = performance.now()
    const res = await this.opts.pool.query<{ name: string }>(
      `UPDATE cluster_leases AS l SET expires_at = now() + $3 * interval '1 millisecond', renewed_at = now()
       FROM unnest($1::text[], $2::bigint[]) AS h(name, token)
       WHERE l.name = h.name AND l.token = h.token AND l.holder = $4 AND l.expires_at > now()
       RETURNING l.name`,
      [entries.map(([n]) => n), entries.map(([, h]) => h.token), this.ttlMs, this.opts.nodeId],
    )
    const renewed = new Set(res.rows.map((r) => r.name))
    for (const [name, h] of entries) {
      // Compared by token: a lease released and re-taken during the query is left alone.
      if (this.held.get(name)?.token !== h.token) continue
      if (renewed.has(name)) this.held.set(name, { token: h.token, deadline: sentAt + this.ttlMs })
      else this.drop(name, 'expired')
    }
  }

  private async balanceGroup(names: readonly string[], live: number): Promise<void> {
    const quota = Math.ceil(names.length / live)
    const mine = names.filter((n) => this.held.has(n))
    if (mine.length > quota) {
      // More nodes than when these were taken: hand the surplus back for the newcomers.
      for (const n of mine.slice(quota)) await this.release(n)
      return
    }
    if (mine.length === quota) return
    const taken = await this.holders(names)
    // Shuffled, so nodes claiming at the same moment mostly try different leases.
    const free = shuffle(names.filter((n) => !taken.has(n) && !this.held.has(n)))
    let have = mine.length
    for (const n of free) {
      if (have >= quota || this.closed) break
      if ((await this.acquire(n)) !== null) have++
    }
  }

  private expireLocally(): void {
    const now = performance.now()
    for (const [name, h] of [...this.held]) if (now >= h.deadline) this.drop(name, 'unreachable')
  }

  private drop(name: string, reason: LeaseLostReason): void {
    if (!this.held.delete(name)) return
    const log = reason === 'released' || reason === 'closing' ? 'info' : 'warn'
    this.opts.logger[log]({ lease: name, reason }, 'cluster: lease lost')
    this.emit('lost', name, reason)
  }

  private async releaseInDb(leases: ReadonlyArray<[string, number]>): Promise<void> {
    try {
      await this.opts.pool.query(
        `UPDATE cluster_leases AS l SET holder = NULL, expires_at = now()
         FROM unnest($1::text[], $2::bigint[]) AS h(name, token)
         WHERE l.name = h.name AND l.token = h.token AND l.holder = $3`,
        [leases.map(([n]) => n), leases.map(([, t]) => t), this.opts.nodeId],
      )
    } catch (err) {
      // Not fatal: the leases then lapse at their expiry instead of at once.
      this.opts.logger.warn({ err: { message: (err as Error).message } }, 'cluster: lease release failed; they expire instead')
    }
  }
}

function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[xs[i], xs[j]] = [xs[j]!, xs[i]!]
  }
  return xs
}
