// Which topics the other nodes' clients subscribe to, so that a message no other node wants stays
// off Redis (docs/operations.md "MQTT across nodes"). mqemitter-redis publishes every message to
// Redis and hands it to this node's own listeners only when it comes back: a device's telemetry,
// which in a province nobody but the gateway reads over MQTT, crossed Redis twice for nothing, and
// the encoding, the command and its answer were the largest share of a cluster node's CPU.
//
// Every node announces the filters its listeners hold (outside `$SYS/`), on
// `$SYS/{broker id}/interest` through Redis: its whole set when it starts, when another node asks,
// and after a lost announcement; what changed since otherwise, numbered, so that a receiver that
// missed one (its subscriber connection was away, a publish failed) sees the gap and asks again.
// One node's announcements reach another in the order they were sent (one Redis connection to
// another), so a whole set replaces what was known and a change applies on top of it.
//
// A message outside `$SYS/` goes to this node's listeners at once, and through Redis as well when
// a filter of another node matches it or while this node is not sure what the others want (the
// first 3 heartbeats after it starts, a node heard of but not yet heard from, a gap). Its copy
// coming back from Redis is dropped here, so this node's subscribers get its messages in the order
// it published them whichever way each went, and without a round trip through Redis. `$SYS/`
// messages (heartbeats, takeovers, subscription announcements) keep mqemitter-redis' way: this
// node's listeners get them back from Redis, which several steps wait for.
//
// A SUBSCRIBE adding a filter this node did not listen to yet is answered (SUBACK) once the
// announcement came back through Redis, which has then sent it to every node; bounded as the
// subscription announcements are (redis-queue.ts), then answered anyway and counted. A node silent
// for 10 heartbeats is forgotten (its clients' filters are on the nodes they reconnected to).
import { createRequire } from 'node:module'
import type { Redis } from 'ioredis'
import Type from 'typebox'
import { Compile } from 'typebox/compile'
import { CountedLog } from '../log/counted-log.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import { decodeJson } from '../util/schema-error.ts'

const require = createRequire(import.meta.url)
const { QlobberTrue } = require('qlobber') as {
  QlobberTrue: new (opts: { separator: string; wildcard_one: string; wildcard_some: string; match_empty_levels: boolean }) => {
    add(topic: string): void
    remove(topic: string): void
    test(topic: string): boolean
  }
}
// The encoding mqemitter-redis decodes a message from Redis with (its handler).
const msgpack = require('msgpack-lite') as { encode(v: unknown): Buffer }

export type BusPacket = { topic: string; payload: Buffer | string } & Record<string, unknown>
type Done = (err?: Error | null) => void
type Listener = (packet: BusPacket, done: () => void) => void

/** mqemitter-redis 7 as this wraps it: its public methods and the three internals the wrap needs. */
export interface RedisBus {
  on(topic: string, f: Listener, done?: () => void): unknown
  removeListener(topic: string, f: Listener, done?: () => void): unknown
  emit(packet: BusPacket, done?: Done): unknown
  /** mqemitter's own emit: this node's listeners only. */
  _emit(packet: BusPacket, done?: Done): unknown
  /** Ids of the messages already handed to this node's listeners (its handler skips those coming back). */
  _cache: { set(id: string, v: true): void }
  pubConn: Redis
}

// An MQTT topic filter is at most 65,535 bytes (MQTT 3.1.1 clause 1.5.3); the count is a sanity bound.
const Filters = Type.Array(Type.String({ minLength: 1, maxLength: 65_535 }), { maxItems: 1_000_000 })
/**
 * An announcement's payload: a whole set (`full`, `ask` when the sender wants everyone's) or a
 * change. Checked on arrival like any input at an edge: a node of another version, or anyone with
 * access to Redis, may send something else.
 */
const AnnouncementSchema = Type.Object({
  seq: Type.Integer({ minimum: 1 }),
  full: Type.Optional(Filters),
  ask: Type.Optional(Type.Boolean()),
  add: Type.Optional(Filters),
  rm: Type.Optional(Filters),
})
type Announcement = Type.Static<typeof AnnouncementSchema>
const checkAnnouncement = Compile(AnnouncementSchema)
/** An unreadable announcement is logged at most this often (each one is counted). */
const INVALID_LOG_MS = 60_000

interface Peer {
  filters: Set<string>
  /** Number of the last announcement applied; NaN until a whole set came. */
  seq: number
  seenAt: number
}

const SYS = '$SYS/'
const ANNOUNCE_SUFFIX = '/interest'
/** How long a SUBSCRIBE waits for its filter's announcement to come back (redis-queue.ts waits as long per attempt). */
const ANNOUNCE_WAIT_MS = 3_000
/** Topics whose answer is remembered at most (cleared whenever a filter of another node changes). */
const MAX_REMEMBERED = 20_000

export interface PeerInterestOptions {
  /** This run's broker id (cluster.ts runIdOf). */
  runId: string
  heartbeatMs: number
  metrics: Metrics
  log: Logger
  /** A SUBSCRIBE answered without its filter's announcement coming back (counted and logged by the caller). */
  onLost: (filter: string) => void
}

export class PeerInterest {
  /** Listeners per filter of this node, outside `$SYS/`. */
  private readonly own = new Map<string, number>()
  /** Per own filter added, the number of the announcement it went out in (until that came back). */
  private readonly announcing = new Map<string, number>()
  private readonly waiting: Array<{ seq: number; resolve: () => void }> = []
  private readonly peers = new Map<string, Peer>()
  /** Per filter of the other nodes, which nodes hold it. */
  private readonly holders = new Map<string, Set<string>>()
  private readonly matcher = newMatcher()
  private readonly remembered = new Map<string, boolean>()
  /** Changes not announced yet. */
  private added = new Set<string>()
  private removed = new Set<string>()
  private flushDue = false
  private fullDue = false
  private askDue = false
  private askedAt = Number.NEGATIVE_INFINITY
  private seq = 0
  /** Until then, every message also goes through Redis (the others may not have answered yet). */
  private warmUntil = Number.POSITIVE_INFINITY
  /** True while this node cannot tell what the others want. */
  private unsure = true
  private nextId = 0
  /** Unreadable announcements, logged at most once a minute. */
  private readonly invalidLog = new CountedLog(INVALID_LOG_MS)
  private timer: NodeJS.Timeout | undefined
  private readonly m

  private readonly redisEmit: (packet: BusPacket, done?: Done) => unknown
  private readonly localEmit: (packet: BusPacket, done?: Done) => unknown
  private readonly busOn: RedisBus['on']
  private readonly busOff: RedisBus['removeListener']

  constructor(
    private readonly bus: RedisBus,
    private readonly o: PeerInterestOptions,
  ) {
    this.redisEmit = bus.emit.bind(bus)
    this.localEmit = bus._emit.bind(bus)
    this.busOn = bus.on.bind(bus)
    this.busOff = bus.removeListener.bind(bus)
    const routed = o.metrics.counter(
      'mqtt_messages_routed_total',
      'Cluster mode: MQTT messages outside $SYS published on this node, by whether they went through Redis to the other nodes (redis) or no other node wanted them (local)',
      ['via'],
    )
    this.m = {
      redis: o.metrics.hotCounter(routed, { via: 'redis' }),
      local: o.metrics.hotCounter(routed, { via: 'local' }),
      invalid: o.metrics.counter(
        'mqtt_interest_invalid_total',
        "Cluster mode: other nodes' topic filter announcements ($SYS/{id}/interest) that could not be read; the sender is asked for its whole set",
      ),
    }
    o.metrics.gaugeReading(
      'mqtt_peer_filters',
      'Cluster mode: distinct topic filters the other nodes listen to, as this node knows them',
      () => this.holders.size,
    )
  }

  /** Wraps the bus's on, removeListener and emit, listens to the announcements and sends this node's. */
  install(): void {
    const bus = this.bus
    bus.on = (topic, f, done) => {
      const added = !topic.startsWith(SYS) && this.listening(topic)
      return this.busOn(topic, f, () => {
        if (!added) return done?.()
        void this.announced(topic).then(() => done?.())
      })
    }
    bus.removeListener = (topic, f, done) => {
      if (!topic.startsWith(SYS)) this.leaving(topic)
      return this.busOff(topic, f, done)
    }
    bus.emit = (packet, done) => this.emit(packet, done)
    this.busOn(
      `${SYS}+${ANNOUNCE_SUFFIX}`,
      (packet, done) => {
        this.heard(packet)
        done()
      },
      () => this.restart(),
    )
    const alive = (packet: BusPacket, done: () => void): void => {
      this.alive(packet.payload.toString())
      done()
    }
    this.busOn(`${SYS}+/heartbeat`, alive)
    this.busOn(`${SYS}+/birth`, alive)
    this.timer = setInterval(() => this.tick(), this.o.heartbeatMs)
    this.timer.unref()
  }

  /**
   * Forgets what the others want and asks them again: at start, and once this node's subscriber
   * connection is back from a loss (what they announced meanwhile never came).
   */
  restart(): void {
    for (const run of [...this.peers.keys()]) this.forget(run)
    this.warmUntil = Date.now() + 3 * this.o.heartbeatMs
    this.judge()
    this.askDue = true
    this.fullDue = true
    this.schedule()
  }

  /** This node's subscriber connection is down: unsure what the others want until `restart`. */
  lost(): void {
    this.warmUntil = Number.POSITIVE_INFINITY
    this.unsure = true
  }

  stop(): void {
    clearInterval(this.timer)
  }

  /** Whether a message on `topic` must go through Redis: another node may want it. */
  wantedElsewhere(topic: string): boolean {
    if (this.unsure) return true
    let wanted = this.remembered.get(topic)
    if (wanted === undefined) {
      wanted = this.matcher.test(topic)
      if (this.remembered.size >= MAX_REMEMBERED) this.remembered.clear()
      this.remembered.set(topic, wanted)
    }
    return wanted
  }

  private emit(packet: BusPacket, done: Done = () => undefined): unknown {
    if (packet.topic.startsWith(SYS)) return this.redisEmit(packet, done)
    if (!this.wantedElsewhere(packet.topic)) {
      this.m.local.inc()
      return this.localEmit(packet, done)
    }
    this.m.redis.inc()
    // Both ways, the caller answered once both are done (aedes acknowledges a QoS 1 message then).
    let left = 2
    let failure: Error | null = null
    const settled = (err?: Error | null): void => {
      if (err && !failure) failure = err
      if (--left === 0) done(failure)
    }
    // mqemitter-redis' message as its emit builds it, under an id its handler is told to skip when
    // the copy comes back (that handler and the cache are its own: version 7).
    const id = `${this.o.runId}:${(this.nextId++).toString(36)}`
    this.bus._cache.set(id, true)
    this.bus.pubConn.publish(packet.topic, msgpack.encode({ id, msg: packet })).then(() => settled(), settled)
    return this.localEmit(packet, settled)
  }

  // --- this node's filters

  /** A listener added; true when its filter is new here (announced). */
  private listening(filter: string): boolean {
    const n = this.own.get(filter) ?? 0
    this.own.set(filter, n + 1)
    if (n > 0) return this.announcing.has(filter) || this.added.has(filter)
    if (!this.removed.delete(filter)) this.added.add(filter)
    this.schedule()
    return true
  }

  private leaving(filter: string): void {
    const n = this.own.get(filter) ?? 0
    if (n > 1) return void this.own.set(filter, n - 1)
    if (n === 0) return
    this.own.delete(filter)
    this.announcing.delete(filter)
    if (!this.added.delete(filter)) this.removed.add(filter)
    this.schedule()
  }

  /** Resolves once the announcement adding `filter` came back through Redis, or after ANNOUNCE_WAIT_MS. */
  private announced(filter: string): Promise<void> {
    // Already back, or never sent (its listener went away meanwhile).
    if (!this.announcing.has(filter) && !this.added.has(filter)) return Promise.resolve()
    return new Promise<void>((resolve) => {
      // Not sent yet (this turn's changes leave with the next announcement) or on its way.
      const w = { seq: this.announcing.get(filter) ?? this.seq + 1, resolve: () => undefined as void }
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(w), 1)
        this.o.onLost(filter)
        this.fullDue = true
        this.schedule()
        resolve()
      }, ANNOUNCE_WAIT_MS)
      w.resolve = () => {
        clearTimeout(timer)
        resolve()
      }
      this.waiting.push(w)
    })
  }

  private schedule(): void {
    if (this.flushDue) return
    this.flushDue = true
    setImmediate(() => this.flush())
  }

  private flush(): void {
    this.flushDue = false
    let message: Announcement
    if (this.fullDue || this.askDue) {
      message = { seq: ++this.seq, full: [...this.own.keys()], ...(this.askDue ? { ask: true } : {}) }
      if (this.askDue) this.askedAt = Date.now()
      this.fullDue = false
      this.askDue = false
      for (const filter of this.own.keys()) if (this.added.has(filter) || this.announcing.has(filter)) this.announcing.set(filter, this.seq)
    } else {
      if (this.added.size === 0 && this.removed.size === 0) return
      message = { seq: ++this.seq }
      if (this.added.size > 0) message.add = [...this.added]
      if (this.removed.size > 0) message.rm = [...this.removed]
      for (const filter of this.added) this.announcing.set(filter, this.seq)
    }
    this.added = new Set()
    this.removed = new Set()
    const payload = Buffer.from(JSON.stringify(message))
    this.redisEmit({ topic: `${SYS}${this.o.runId}${ANNOUNCE_SUFFIX}`, payload }, (err) => {
      if (!err) return
      // The others see the gap at the next one and ask; the whole set goes at the next tick.
      this.fullDue = true
    })
  }

  // --- the other nodes' filters

  private heard(packet: BusPacket): void {
    const run = packet.topic.slice(SYS.length, -ANNOUNCE_SUFFIX.length)
    const a: Announcement | string = decodeJson(checkAnnouncement, packet.payload.toString())
    if (typeof a === 'string') return this.unreadable(run, a)
    if (run === this.o.runId) return this.echoed(a.seq)
    const peer = this.heardFrom(run)
    if (a.ask) {
      this.fullDue = true
      this.schedule()
    }
    if (Array.isArray(a.full)) {
      this.replace(run, peer, a.full)
      peer.seq = a.seq
    } else if (peer.seq + 1 === a.seq) {
      for (const f of a.add ?? []) this.hold(run, peer, f)
      for (const f of a.rm ?? []) this.release(run, peer, f)
      peer.seq = a.seq
    } else {
      // A change without the one before it (or before any whole set): what that node wants is unknown.
      peer.seq = Number.NaN
      this.ask()
    }
    this.judge()
  }

  /** The node `run`, met now if it is new, heard from now. */
  private heardFrom(run: string): Peer {
    const now = Date.now()
    const peer = this.peers.get(run) ?? this.meet(run, now)
    peer.seenAt = now
    return peer
  }

  /** What that node wants is unknown now: asked again, as after a gap; counted, and logged once a minute. */
  private unreadable(run: string, problem: string): void {
    // Under this node's own id it was sent by something else with access to Redis: this node
    // knows what it wants itself, and must not become a peer of its own.
    if (run !== this.o.runId) {
      this.heardFrom(run).seq = Number.NaN
      this.ask()
      this.judge()
    }
    this.m.invalid.inc()
    const announcements = this.invalidLog.note()
    if (announcements === undefined) return
    this.o.log.warn(
      { event: 'mqtt_interest_invalid', node: run.slice(0, 100), problem, announcements },
      "another node's topic filter announcement could not be read; its whole set is asked for",
    )
  }

  private echoed(seq: number): void {
    for (const [filter, s] of this.announcing) if (s <= seq) this.announcing.delete(filter)
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const w = this.waiting[i]!
      if (w.seq > seq) continue
      this.waiting.splice(i, 1)
      w.resolve()
    }
  }

  private alive(run: string): void {
    if (run === this.o.runId) return
    const now = Date.now()
    const peer = this.peers.get(run)
    if (peer) peer.seenAt = now
    else this.meet(run, now)
    if (!peer || Number.isNaN(peer.seq)) this.ask()
    this.judge()
  }

  private meet(run: string, now: number): Peer {
    const peer: Peer = { filters: new Set(), seq: Number.NaN, seenAt: now }
    this.peers.set(run, peer)
    return peer
  }

  /** Asks every node for its whole set, at most once a heartbeat. */
  private ask(): void {
    if (this.askDue || Date.now() - this.askedAt < this.o.heartbeatMs) return
    this.askDue = true
    this.schedule()
  }

  private replace(run: string, peer: Peer, filters: string[]): void {
    const next = new Set(filters)
    for (const f of [...peer.filters]) if (!next.has(f)) this.release(run, peer, f)
    for (const f of next) this.hold(run, peer, f)
  }

  private hold(run: string, peer: Peer, filter: string): void {
    if (peer.filters.has(filter)) return
    peer.filters.add(filter)
    const runs = this.holders.get(filter)
    if (runs) return void runs.add(run)
    this.holders.set(filter, new Set([run]))
    this.matcher.add(filter)
    this.remembered.clear()
  }

  private release(run: string, peer: Peer, filter: string): void {
    if (!peer.filters.delete(filter)) return
    const runs = this.holders.get(filter)
    if (!runs) return
    runs.delete(run)
    if (runs.size > 0) return
    this.holders.delete(filter)
    this.matcher.remove(filter)
    this.remembered.clear()
  }

  private forget(run: string): void {
    const peer = this.peers.get(run)
    if (!peer) return
    for (const f of [...peer.filters]) this.release(run, peer, f)
    this.peers.delete(run)
  }

  private tick(): void {
    const now = Date.now()
    for (const [run, peer] of this.peers) if (peer.seenAt + 10 * this.o.heartbeatMs < now) this.forget(run)
    for (const peer of this.peers.values()) if (Number.isNaN(peer.seq)) this.ask()
    if (this.fullDue) this.schedule()
    this.judge()
  }

  /** Sure once the warm-up is over and every node heard of has sent its whole set since. */
  private judge(): void {
    let sure = Date.now() >= this.warmUntil
    if (sure) for (const peer of this.peers.values()) if (Number.isNaN(peer.seq)) sure = false
    this.unsure = !sure
  }
}

// The bus's own matching rules (mqemitter with matchEmptyLevels, as cluster.ts creates it).
function newMatcher() {
  return new QlobberTrue({ separator: '/', wildcard_one: '+', wildcard_some: '#', match_empty_levels: true })
}
