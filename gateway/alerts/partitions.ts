import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import type { LeaseManager } from '../cluster/leases.ts'
import { CountedLog } from '../log/counted-log.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { Input } from './conditions.ts'
import { FencedError } from './errors.ts'
import { inputPartition } from './evaluate.ts'
import { KeyedQueue, partitionOf } from './ordering.ts'
import { decodeInputs, encodeInputs, type ForwardedInput } from './partition-wire.ts'
import type { Fence } from './store.ts'
import { connectPubSub } from '../cluster/redis-pubsub.ts'

// Alert rules across nodes (docs/operations.md "Several nodes", "Alert rules across nodes"). The
// rule state of each subject (level conditions, silence timers) is owned by one node at a time: subjects are hashed
// into `count` partitions, each a lease `alerts:partition:{n}` of the group `alerts`, balanced over
// the live nodes (gateway/cluster/leases.ts). Only the holder evaluates the partition's inputs.
//
// An input reaching another node (the device is connected there) goes to the owner through Redis.
// Inputs for other nodes gather for GATHER_MS and leave as one message per owner, on the owner's
// channel `iocgw:alerts:node:{node id}`, each naming its partition: a PUBLISH and its delivery
// cost more than evaluating the few inputs a turn of the event loop holds, and a message per
// partition and turn came to about one per MQTT message handled. Who owns which partition is
// read from the lease table every OWNERS_EVERY_MS; the receiver checks its own token and sends an
// input it no longer owns on. Where the owner is not known, or its channel has no listener (it
// died; it runs a version without node channels), the partition's own channel
// `iocgw:alerts:inputs:{n}` is used, to which only the holder subscribes. Redis answers how many
// received it: none means no node holds the partition now (its owner died and the lease has not
// expired yet), and the inputs are held here and sent again until a node takes the partition over,
// or evaluated here if this node is the one that does. Inputs of a partition leave a node in
// arrival order: one waiting holds back those behind it. Only past `holdMs` is an input given up,
// counted and logged, never silently.
//
// Taking a partition (or losing it) drops this node's cached rule state of its subjects: the next
// input loads the state its previous owner stored in PostgreSQL, and the silence timers are read at
// once (a silent device sends no input). Every alert write checks the
// partition's fencing token in its own transaction (fenceCheck), so an owner that was paused past
// its lease's expiry cannot write over its successor; the input it was handling is sent on to the
// new owner.

export const ALERT_PARTITION_GROUP = 'alerts'
export const DEFAULT_ALERT_PARTITIONS = 32
const LEASE_PREFIX = 'alerts:partition:'
const CHANNEL_PREFIX = 'iocgw:alerts:inputs:'
const NODE_CHANNEL_PREFIX = 'iocgw:alerts:node:'
/** How often an input without an owner is offered again. */
const RETRY_MS = 200
/** An input sent on more often than this (owners lapsing one after the other) is given up. */
const MAX_HOPS = 4
/** Inputs of one partition in one forwarded message at most: a turn at full speed may hold thousands. */
const MAX_BATCH = 500
/** Inputs in one message to a node at most (partition-wire.ts allows 10,000). */
const MAX_NODE_MESSAGE = 2_000
/**
 * How long inputs for other nodes gather before they leave: a node handles an MQTT message or
 * two per turn of its event loop, so a message per turn was a PUBLISH (and a delivery, about
 * 60 µs of CPU in all) per MQTT message. Evaluation waits this much longer; no acknowledgement
 * waits for it.
 */
const GATHER_MS = 5
/** How often the partitions' owners are read from the lease table (and again whenever one was wrong). */
const OWNERS_EVERY_MS = 1_000

/** A turn's inputs of one partition, sent together; `result` settles once they are evaluated here or handed on. */
interface Batch {
  entries: ForwardedInput[]
  /** When the first arrived: held counts from there. */
  arrived: number
  /** Where an identical silence input (`seen` of the same device) already is in `entries`. */
  seen: Map<string, number>
  result: Promise<Array<Promise<void> | undefined> | undefined>
  settle: (r: Promise<Array<Promise<void> | undefined> | undefined>) => void
}

export const partitionLease = (n: number): string => `${LEASE_PREFIX}${n}`

/** News from a device for the silence rules (a reading, an online status): its subject is `device:{id}`. */
export interface SeenInput {
  type: 'seen'
  device: string
  kind?: string | undefined
  station?: string | null | undefined
  district?: string | null | undefined
}

/** What is routed to a partition's owner: an input of the level conditions, or a device heard from. */
export type RoutedInput = Input | SeenInput

/** The subject whose partition an input belongs to. */
export const routedSubject = (input: RoutedInput): string => (input.type === 'seen' ? `device:${input.device}` : inputPartition(input))

/**
 * The partition of a subject: FNV-1a (32 bits) of its ordering key (ordering.ts partitionOf, so a
 * camera's zones share the camera's), modulo the count. The same on every node and every version.
 */
export function partitionIndex(subject: string, count: number): number {
  const key = partitionOf(subject)
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0) % count
}

export type PartitionLeaseManager = Pick<LeaseManager, 'balance' | 'token' | 'heldLeases' | 'holders' | 'on' | 'off'>

export interface AlertPartitionsOptions {
  leases: PartitionLeaseManager
  redisUrl: string
  nodeId: string
  /** alerts.partitions: the same on every node. */
  count: number
  /** alerts.partitionHoldS in ms: how long an input waits for a node to own its partition. */
  holdMs: number
  logger: Logger
  metrics: Metrics
  /**
   * Evaluates an input of a partition this node holds; rejects with FencedError when it was taken
   * over. Undefined when it was evaluated synchronously (the engine's `post`: no store work).
   */
  evaluate: (input: RoutedInput, fence: Fence) => Promise<void> | undefined
  /** How long a device's `seen` sent to its partition's owner stands for the next ones (silence.ts seenWindowMs). */
  seenWindowMs?: (() => number) | undefined
  /** Drops the cached rule state of the subjects `belongs` says are the partition's. */
  forget: (belongs: (subject: string) => boolean) => void
  /** After taking a partition: reads what must be watched without an input (the silence timers). */
  adopt?: ((belongs: (subject: string) => boolean) => Promise<void>) | undefined
}

export class AlertPartitions {
  private readonly pub: Redis
  private readonly sub: Redis
  /** Each partition's outgoing inputs, one batch at a time, in arrival order. */
  private readonly sending = new KeyedQueue()
  /** The batches gathering, sent GATHER_MS after the first of them. */
  private readonly pending = new Map<number, Batch>()
  private flushing: NodeJS.Timeout | undefined
  /** Each partition's owner by node id, as last read from the lease table (a hint: the receiver checks). */
  private owners = new Map<number, string>()
  private ownersTimer: NodeJS.Timeout | undefined
  private readingOwners: Promise<void> | undefined
  private closed = false
  /** When each device's `seen` (by seenKey) last left for its owner, and when those older than a second were last dropped. */
  private readonly seenSent = new Map<string, number>()
  private seenPrunedAt = 0
  /** Inputs given up: every one counted, logged at most every 10 s (a long Redis outage gives up every input). */
  private readonly givenUpLog = new CountedLog(10_000)
  private readonly m
  /** Each partition's lease name, by partition. */
  private readonly leaseNames: readonly string[]
  private readonly fences: Array<Fence | undefined> = []

  constructor(private readonly o: AlertPartitionsOptions) {
    if (!Number.isInteger(o.count) || o.count < 1) throw new Error('alerts: the partition count must be a positive integer')
    this.leaseNames = Array.from({ length: o.count }, (_, n) => partitionLease(n))
    const m = o.metrics
    const routed = m.counter(
      'alert_inputs_routed_total',
      'Cluster mode: alert inputs by where they went (local, forwarded, coalesced, held, no_holder, lease_lost, fenced, invalid, hops)',
      ['outcome'],
    )
    // Counted per input: prom-client's labelled inc cost an allocation and a hash each (registry.ts hotCounter).
    this.m = {
      routed,
      local: m.hotCounter(routed, { outcome: 'local' }),
      forwarded: m.hotCounter(routed, { outcome: 'forwarded' }),
      coalesced: m.hotCounter(routed, { outcome: 'coalesced' }),
    }
    m.gaugeReading('alert_partitions_held', 'Cluster mode: alert partitions this node owns and evaluates now', () => this.held())
    this.pub = this.connect('alerts-pub', 'publish')
    this.sub = this.connect('alerts-sub', 'subscribe')
    this.sub.on('message', (channel: string, message: string) => this.onForwarded(channel, message))
    // ioredis subscribes again by itself after an outage (autoResubscribe).
    this.sub
      .subscribe(NODE_CHANNEL_PREFIX + o.nodeId)
      .catch((err: Error) => this.o.logger.warn({ err: { message: err.message } }, "alerts: subscribing to the node's channel failed"))
    this.ownersTimer = setInterval(() => void this.readOwners(), OWNERS_EVERY_MS)
    this.ownersTimer.unref()
    void this.readOwners()
    o.leases.on('acquired', this.onAcquired)
    o.leases.on('lost', this.onLost)
    for (const [name] of o.leases.heldLeases()) this.onAcquired(name)
    o.leases.balance(ALERT_PARTITION_GROUP, this.leaseNames)
  }

  /** The lease a subject's rule state is written under when this node owns it now, else null. */
  fenceOf(subject: string): Fence | null {
    return this.fence(partitionIndex(subject, this.o.count))
  }

  /**
   * Evaluates the input here when this node owns its partition, else sends it to the owner (held
   * while there is none). Resolves once it is evaluated here or handed on (or given up, counted);
   * undefined when it was evaluated here at once.
   */
  route(input: RoutedInput, hops = 0): Promise<void> | undefined {
    const n = partitionIndex(routedSubject(input), this.o.count)
    // Owned here, and nothing of the partition waiting to leave before it: evaluated now, without
    // this turn's batching (most of what a local input cost the cluster node).
    if (!this.pending.has(n) && !this.sending.busy(String(n))) {
      const fence = this.fence(n)
      if (fence) return this.local(n, input, fence, hops)
    }
    // A device heard twice in one turn is one `seen`: the owner notes the time it evaluates it. And
    // one sent within the window stands for those after it: a chatty device (a reading a second,
    // a 10-reading array) no longer sends the owner a `seen` per reading.
    const seenKey = input.type === 'seen' ? `${input.device}\u0000${input.kind}\u0000${input.station}\u0000${input.district}` : undefined
    if (seenKey !== undefined && hops === 0 && this.sentLately(seenKey)) {
      this.m.coalesced.inc()
      return undefined
    }
    let batch = this.pending.get(n)
    if (!batch) {
      batch = newBatch()
      this.pending.set(n, batch)
      this.flushing ??= setTimeout(() => this.flush(), GATHER_MS)
    }
    let i = seenKey === undefined ? undefined : batch.seen.get(seenKey)
    if (i === undefined) {
      // Its partition named, as a message to the owner's node channel carries several.
      i = batch.entries.push({ hops, partition: n, input }) - 1
      if (seenKey !== undefined) batch.seen.set(seenKey, i)
    }
    const at = i
    const result = batch.result.then((evaluated) => evaluated?.[at])
    if (batch.entries.length >= MAX_BATCH) this.dispatch(n, batch)
    return result
  }

  /** Whether a `seen` with this key left within the window; if not, it is noted as leaving now. */
  private sentLately(seenKey: string): boolean {
    const window = this.o.seenWindowMs?.() ?? 0
    if (window <= 0) return false
    const now = performance.now()
    const last = this.seenSent.get(seenKey)
    if (last !== undefined && now - last < window) return true
    this.seenSent.set(seenKey, now)
    // Devices gone quiet (or moved to another node) are dropped, every few seconds at most.
    if (now - this.seenPrunedAt > 5_000) {
      this.seenPrunedAt = now
      for (const [k, at] of this.seenSent) if (now - at >= 1_000) this.seenSent.delete(k)
    }
    return false
  }

  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.ownersTimer)
    this.flush()
    this.o.leases.off('acquired', this.onAcquired)
    this.o.leases.off('lost', this.onLost)
    await this.sending.idle()
    for (const r of [this.sub, this.pub]) {
      if (r.status === 'end') continue
      await r.quit().catch(() => r.disconnect())
    }
  }

  private held(): number {
    let k = 0
    for (const [name] of this.o.leases.heldLeases()) if (name.startsWith(LEASE_PREFIX)) k++
    return k
  }

  private fence(n: number): Fence | null {
    // Asked for every input: the fence object is made once per partition and token, while the
    // token itself is asked every time (it lapses at the local deadline).
    const name = this.leaseNames[n]!
    const token = this.o.leases.token(name)
    if (token === undefined) return null
    const last = this.fences[n]
    return last?.token === token ? last : (this.fences[n] = { name, token })
  }

  /**
   * Sends the gathered batches, each after those of its partition sent before: those whose owner
   * is known (and another node) as one message per owner, on its node channel; the others (owner
   * unknown, or an earlier batch of the partition still on its way or held) each on its own.
   */
  private flush(): void {
    if (this.flushing) clearTimeout(this.flushing)
    this.flushing = undefined
    const byOwner = new Map<string, Array<[number, Batch]>>()
    for (const [n, batch] of this.pending) {
      const owner = this.owners.get(n)
      if (owner === undefined || owner === this.o.nodeId || this.closed || this.sending.busy(String(n))) {
        this.dispatch(n, batch)
        continue
      }
      const group = byOwner.get(owner)
      if (group) group.push([n, batch])
      else byOwner.set(owner, [[n, batch]])
    }
    this.pending.clear()
    for (const [owner, group] of byOwner) {
      let part: Array<[number, Batch]> = []
      let size = 0
      for (const item of group) {
        if (size + item[1].entries.length > MAX_NODE_MESSAGE && part.length > 0) {
          this.dispatchToNode(owner, part)
          part = []
          size = 0
        }
        part.push(item)
        size += item[1].entries.length
      }
      this.dispatchToNode(owner, part)
    }
  }

  /**
   * One message to `owner` for the batches of several partitions. Each partition's queue waits for
   * it, so that a later batch of the partition leaves after it. No node listening on that channel
   * (the owner died, or runs a version without node channels) or Redis away: each batch takes the
   * partition's own way (its channel, held while nobody owns the partition), in order.
   */
  private dispatchToNode(owner: string, group: Array<[number, Batch]>): void {
    const entries = group.flatMap(([, batch]) => batch.entries)
    const sent = this.pub.publish(NODE_CHANNEL_PREFIX + owner, encodeInputs(entries)).then(
      (receivers) => receivers > 0,
      () => false,
    )
    for (const [n, batch] of group) {
      batch.settle(
        this.sending.run(String(n), async () => {
          if (await sent) {
            this.m.forwarded.inc(batch.entries.length)
            return undefined
          }
          void this.readOwners()
          return this.send(n, batch.entries, batch.arrived)
        }),
      )
    }
  }

  /** Reads the partitions' owners from the lease table (one read at a time; a failure keeps the last). */
  private readOwners(): Promise<void> {
    this.readingOwners ??= this.o.leases
      .holders(this.leaseNames)
      .then(
        (holders) => {
          const owners = new Map<number, string>()
          for (const [name, node] of holders) {
            const n = this.partitionOfLease(name)
            if (n !== undefined) owners.set(n, node)
          }
          this.owners = owners
        },
        () => undefined,
      )
      .finally(() => {
        this.readingOwners = undefined
      })
    return this.readingOwners
  }

  private dispatch(n: number, batch: Batch): void {
    this.pending.delete(n)
    // The evaluations are not awaited in the partition's queue: the engine keeps each subject's order.
    batch.settle(this.sending.run(String(n), () => this.send(n, batch.entries, batch.arrived)))
  }

  /** The evaluations when this node owns the partition, undefined once handed on or given up. */
  private async send(n: number, entries: ForwardedInput[], since: number): Promise<Array<Promise<void> | undefined> | undefined> {
    let waited = false
    for (;;) {
      const fence = this.fence(n)
      if (fence) return entries.map((e) => this.local(n, e.input, fence, e.hops))
      if (this.closed) break
      let receivers = 0
      try {
        receivers = await this.pub.publish(CHANNEL_PREFIX + n, encodeInputs(entries))
      } catch {
        // Redis unreachable: held like inputs without owner (the connection logs the outage).
      }
      if (receivers > 0) {
        this.m.forwarded.inc(entries.length)
        return undefined
      }
      if (!waited) {
        waited = true
        this.m.routed.inc({ outcome: 'held' }, entries.length)
      }
      if (performance.now() - since >= this.o.holdMs) break
      await sleep(RETRY_MS)
    }
    this.m.routed.inc({ outcome: 'no_holder' }, entries.length)
    const inputs = this.givenUpLog.note(entries.length)
    if (inputs !== undefined) {
      this.o.logger.error(
        {
          partition: n,
          subject: routedSubject(entries[0]!.input),
          heldMs: Math.round(performance.now() - since),
          inputs,
          closing: this.closed,
        },
        'alerts: input not evaluated, no node took its partition',
      )
    }
    return undefined
  }

  private local(n: number, input: RoutedInput, fence: Fence, hops: number): Promise<void> | undefined {
    this.m.local.inc()
    return this.o.evaluate(input, fence)?.catch((err: unknown) => {
      if (!(err instanceof FencedError)) throw err
      this.m.routed.inc({ outcome: 'fenced' })
      this.o.logger.warn(
        { partition: n, subject: routedSubject(input) },
        'alerts: partition taken over during an evaluation; input sent on',
      )
      this.forgetPartition(n)
      return this.onward(input, hops)
    })
  }

  /** Sends an input on again (to the partition's new owner), within MAX_HOPS. */
  private onward(input: RoutedInput, hops: number): Promise<void> | undefined {
    if (hops + 1 <= MAX_HOPS) return this.route(input, hops + 1)
    this.m.routed.inc({ outcome: 'hops' })
    this.o.logger.error({ subject: routedSubject(input), hops }, 'alerts: input not evaluated, its partition changed owner too often')
    return Promise.resolve()
  }

  private onForwarded(channel: string, message: string): void {
    if (this.closed) return
    // One partition's channel, or this node's (each input tagged with its partition).
    const channelPartition = channel.startsWith(CHANNEL_PREFIX) ? Number(channel.slice(CHANNEL_PREFIX.length)) : undefined
    if (channelPartition === undefined && channel !== NODE_CHANNEL_PREFIX + this.o.nodeId) return
    const inputs = decodeInputs(message)
    const problem = typeof inputs === 'string' ? inputs : this.misplaced(inputs, channelPartition)
    if (problem !== undefined || typeof inputs === 'string') {
      this.m.routed.inc({ outcome: 'invalid' })
      this.o.logger.warn({ channel, problem }, 'alerts: forwarded input unreadable')
      return
    }
    for (const f of inputs) {
      const n = f.partition ?? channelPartition!
      const fence = this.fence(n)
      const done = fence
        ? this.local(n, f.input, fence, f.hops)
        : // Sent while this node held the partition (or the sender thought so), arrived after it lapsed: on to the new owner.
          (this.m.routed.inc({ outcome: 'lease_lost' }), this.onward(f.input, f.hops))
      done?.catch((err: unknown) => this.o.logger.error({ err, partition: n }, 'alert evaluation failed'))
    }
  }

  /** What is wrong with where the inputs say they belong, if anything. */
  private misplaced(inputs: ForwardedInput[], channelPartition: number | undefined): string | undefined {
    for (const f of inputs) {
      const n = f.partition ?? channelPartition
      if (n === undefined) return 'an input on a node channel names no partition'
      if (channelPartition !== undefined && n !== channelPartition) return "an input names another partition than its channel's"
      if (partitionIndex(routedSubject(f.input), this.o.count) !== n)
        return 'an input is of another partition (alerts.partitions differs between nodes?)'
    }
    return undefined
  }

  private forgetPartition(n: number): void {
    this.o.forget((subject) => partitionIndex(subject, this.o.count) === n)
  }

  private partitionOfLease(name: string): number | undefined {
    if (!name.startsWith(LEASE_PREFIX)) return undefined
    const n = Number(name.slice(LEASE_PREFIX.length))
    return Number.isInteger(n) && n >= 0 && n < this.o.count ? n : undefined
  }

  private readonly onAcquired = (name: string): void => {
    const n = this.partitionOfLease(name)
    if (n === undefined || this.closed) return
    // Whatever this node cached of the partition before is stale: its owner since stored newer state.
    this.forgetPartition(n)
    this.o
      .adopt?.((subject) => partitionIndex(subject, this.o.count) === n)
      .catch((err: unknown) => this.o.logger.error({ err, partition: n }, 'alerts: stored silence states of a partition not read'))
    // ioredis subscribes again by itself after an outage (autoResubscribe).
    this.sub
      .subscribe(CHANNEL_PREFIX + n)
      .catch((err: Error) =>
        this.o.logger.warn({ partition: n, err: { message: err.message } }, 'alerts: subscribing to a partition failed'),
      )
  }

  private readonly onLost = (name: string): void => {
    const n = this.partitionOfLease(name)
    if (n === undefined) return
    this.forgetPartition(n)
    if (!this.closed) this.sub.unsubscribe(CHANNEL_PREFIX + n).catch(() => undefined)
  }

  private connect(role: string, use: 'publish' | 'subscribe'): Redis {
    const { redisUrl: url, nodeId, logger } = this.o
    return connectPubSub({ url, nodeId, role, use, component: 'alerts', logger, closing: () => this.closed })
  }
}

function newBatch(): Batch {
  let settle!: Batch['settle']
  const result = new Promise<Array<Promise<void> | undefined> | undefined>((resolve) => (settle = resolve))
  return { entries: [], arrived: performance.now(), seen: new Map(), result, settle }
}
