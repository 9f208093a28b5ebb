// The broker across several gateway nodes (docs/operations.md "MQTT across nodes"): with
// `redis.url` set, aedes routes messages between nodes through Redis pub/sub (mqemitter-redis) and
// keeps sessions, subscriptions, QoS 1 queues, retained messages and wills in Redis
// (aedes-persistence-redis, bounded by redis-queue.ts). Each run of a node has its own aedes id,
// `{node id}~{start time}` (runIdOf), so that the nodes tell each other apart, and a node started
// again under its node id tells its previous run apart too: aedes numbers its packets from 1 at
// each start (aedes-packet) and the Redis persistence keys a packet queued for an offline session
// `packet:{aedes id}:{number}`, so a new run under the same aedes id overwrote what the previous
// run had queued.
//
// - `$SYS/{id}/heartbeat` every `redis.heartbeatMs`; a run whose heartbeat (or birth) is older
//   than 3 × that is dead, and the next will sweep (every 4 ×) of any surviving node publishes the
//   wills of its clients (will-sweep.ts). A will is therefore out at most about 7 × heartbeatMs
//   after a node dies. A node's previous runs are dead from its start: it publishes their wills
//   before it listens (publishOwnWills), and the sweeps retry any that failed.
// - `$SYS/{id}/new/clients` when a client registers; every other node closes its own client with
//   that id (MQTT-3.1.4-2 takeover across nodes, aedes.js closeSameClients).
// - `iocgw:mqtt:client-node:{client id}` names the node run a client id's latest session started
//   on (devices and integrations alike: a takeover missed while the subscriber was away is found
//   by it). Wills are stored per node and client id, so a device whose node died and that
//   reconnected elsewhere before the sweep would otherwise have its old will published by the
//   sweep: offline while it is online on its new node. A device's new session's node deletes the
//   old node's will.
// - A device session without a will of its own gets the gateway's offline status stored as its
//   will in Redis (not on the session: a local disconnect is handled by the broker itself), so
//   that when its node dies the survivors' sweep says the device is offline, as the node would
//   have (docs/mqtt.md "devices/{id}/status"). It is deleted when the session ends.
//
// Redis being unreachable never stops the process: the connections retry for ever, errors are
// logged (once a minute per connection) and `iocgw_redis_up` and /readyz say so. Redis pub/sub
// delivers at most once: what was published while the subscriber connection was away is lost
// to this node. Three of those messages matter: its node's own subscription announcement, waited
// for before the SUBACK (redis-queue.ts bounds that wait); another node's announcements, which
// this node's routing table follows (matched again to the subscriptions stored in Redis once the
// subscriber is back: those added meanwhile put in, those removed taken out); and
// `$SYS/{id}/new/clients` (then each local session is checked against the node its latest
// session is recorded on, and one taken over meanwhile is closed as the takeover would have).
import { hostname } from 'node:os'
import { Redis } from 'ioredis'
import { createRequire } from 'node:module'
import type { Aedes, Client } from 'aedes'
import { CountedLog } from '../log/counted-log.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import { PeerInterest, type RedisBus } from './peer-interest.ts'
import { RoutedSubscriptions, storedSubscriptions, subscriberLossRecovery } from './pubsub-loss.ts'
import { boundedRedisPersistence } from './redis-queue.ts'
import { SharedPersistentSessions } from './redis-sessions.ts'
import { willSweeper, type WillSweeper } from './will-sweep.ts'

const require = createRequire(import.meta.url)
const mqemitterRedis = require('mqemitter-redis') as (opts: {
  subConn: Redis
  pubConn: Redis
  concurrency: number
  matchEmptyLevels: boolean
}) => object

/** Default `redis.heartbeatMs` (gateway/config/sections.ts has the same). */
export const DEFAULT_HEARTBEAT_MS = 2_000

export interface ClusterOptions {
  url: string
  /** `server.nodeId`; unset: the host name. */
  nodeId?: string | undefined
  heartbeatMs?: number | undefined
  log: Logger
  metrics: Metrics
  /** aedes' mq concurrency. */
  concurrency: number
  maxQueued: number
  onDrop: (clientId: string, what: string) => void
  storable: (sub: object) => boolean
  maxPersistentSessionsPerIdentity: number
}

export interface Cluster {
  nodeId: string
  /** aedes' broker id for this run of the node (runIdOf). */
  runId: string
  /** What aedes.createBroker takes from the cluster. */
  aedesOptions: { id: string; heartbeatInterval: number; mq: object; persistence: object }
  sessions: SharedPersistentSessions
  /** True while every Redis connection is ready. */
  up(): boolean
  /** Gives the takeover watch aedes' table of local clients and starts the will sweep (once aedes exists). */
  watch(aedes: Aedes): void
  /**
   * Publishes the wills this node id left from its previous runs (killed, then restarted: sooner
   * than the other nodes' next sweep). Answers how many were published.
   */
  publishOwnWills(aedes: Aedes): Promise<number>
  /** Whether the local client with this id was taken over by a session on another node. */
  movedAway(clientId: string): boolean
  /**
   * A session started here: records this node run as its latest. A device's (`device` given) also
   * deletes the will its previous session left on another node (one that died, whose wills are
   * swept later), and without a will of its own gets `device.offlineWill` stored as its will.
   */
  sessionStarted(client: Client, device: DeviceSession | undefined): void
  /** A session of this node ended: the offline will stored for a device's is deleted. */
  sessionEnded(client: Client): void
  /**
   * Before aedes closes: no connection reconnects any more. One that is down (Redis away) ends at
   * its next attempt, and the commands waiting in it are rejected to their callers, so that the
   * close of the clients (their unsubscriptions and wills go through Redis) does not wait for Redis.
   */
  beginClose(): void
  /** After aedes closed (it closes the mq connections itself): the persistence connection. */
  close(): Promise<void>
}

/** What a device session adds to its record in Redis (Cluster.sessionStarted). */
export interface DeviceSession {
  /** The gateway's offline status, stored as the session's will when it has none of its own. */
  offlineWill: { topic: string; payload: Buffer }
}

/** How long a closing connection may take to end: above the longest wait between two attempts. */
const END_GRACE_MS = 3_000

/**
 * Ends a connection for good, in bounded time, with nothing left to reject unhandled (call it
 * once `closing` is set, so that the retry strategy gives up). A ready connection sends its QUIT
 * after the commands already written, whose callers get their replies. One that is connecting is
 * cut at once. One waiting between two attempts has no socket to close, and disconnect() would
 * only stop its retries without ever ending it (ioredis 5: no 'end', the queued commands never
 * settle): its next attempt ends it instead, as the retry strategy answers null. Ending rejects
 * the commands still queued to their callers, which handle the rejection.
 */
export function endConnection(redis: Redis, graceMs = END_GRACE_MS): Promise<void> {
  if (redis.status === 'end') return Promise.resolve()
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      resolve()
    }
    const timer = setTimeout(() => {
      if (redis.status !== 'reconnecting') redis.disconnect()
      done()
    }, graceMs)
    redis.once('end', done)
    if (redis.status === 'ready') redis.quit().catch(() => redis.disconnect())
    else if (redis.status !== 'reconnecting') redis.disconnect()
  })
}

/** How long a takeover by another node is remembered for the local client it closes. */
const MOVED_MEMORY_MS = 60_000
/** Redis key naming the node run of a client id's latest session (a device's or an integration's). */
export const clientNodeKey = (clientId: string): string => `iocgw:mqtt:client-node:${clientId}`
/** A client id not seen for this long is forgotten (its key expires); its wills are long swept by then. */
const CLIENT_NODE_TTL_S = 30 * 24 * 3600
/** Deletes a key only while it holds ARGV[1]: an integration's record, unless a newer session replaced it. */
const DELETE_IF_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

/** aedes' broker id for a run of a node started at `startedAt` (node ids have no `~`: gateway/config/sections.ts). */
export const runIdOf = (nodeId: string, startedAt: number): string => `${nodeId}~${startedAt.toString(36)}`

export function openCluster(opts: ClusterOptions): Cluster {
  const nodeId = opts.nodeId ?? hostname()
  const runId = runIdOf(nodeId, Date.now())
  // A run of this node before this one (or a version that used the bare node id).
  const previousRun = (id: string): boolean => id === nodeId || (id.startsWith(`${nodeId}~`) && id !== runId)
  const heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS
  const log = opts.log.child({ component: 'redis' })
  const conns = new Map<string, { redis: Redis; ready: boolean; errors: CountedLog; errorLogged: boolean }>()
  let closing = false
  const reconnects = opts.metrics.counter(
    'redis_reconnects_total',
    "This node's Redis connections ready again after a loss, by role (a subscriber back from one missed what was published meanwhile)",
    ['role'],
  )
  const lostAnnouncements = opts.metrics.counter(
    'mqtt_announcements_lost_total',
    "(Un)subscriptions answered without this node's own announcement coming back through Redis (redis-queue.ts)",
    ['what'],
  )
  // Set once the table of local clients exists (watch): what a subscriber back from a loss checks.
  let afterSubscriberLoss: () => void = () => undefined

  const connect = (role: string): Redis => {
    const redis = new Redis(opts.url, {
      connectionName: `iocgw:${nodeId}:${role}`,
      // Retry for ever, at most every 2 s: an outage is waited out, never a crash. Once the
      // broker closes, a connection that is down ends at its next attempt instead (beginClose).
      retryStrategy: (times) => (closing ? null : Math.min(times * 200, 2_000)),
      // One PUBLISH per MQTT message: those made in one turn of the event loop leave in one socket
      // write, as mqemitter-redis sets for the connections it makes itself (these are ours).
      enableAutoPipelining: role === 'publisher',
    })
    const state = { redis, ready: false, errors: new CountedLog(60_000), errorLogged: false }
    let wasReady = false
    conns.set(role, state)
    redis.on('ready', () => {
      if (!state.ready && state.errorLogged) log.info({ event: 'redis_connected', role }, 'Redis reachable again')
      state.ready = true
      if (!wasReady) {
        wasReady = true
        return
      }
      reconnects.inc({ role })
      if (role !== 'subscriber') return
      log.warn(
        { event: 'redis_subscriber_reconnected' },
        'Redis subscriber connection back: messages published while it was away were not received',
      )
      // After ioredis has subscribed again (it does so once ready): a takeover announced before
      // that is lost too, and its record is there by then.
      setTimeout(() => {
        interest.restart()
        afterSubscriberLoss()
      }, 1_000).unref()
    })
    const down = (): void => {
      state.ready = false
      // What the other nodes announce from now on is lost here: every message goes to them through Redis meanwhile.
      if (role === 'subscriber') interest.lost()
    }
    redis.on('close', down)
    redis.on('end', down)
    redis.on('error', (err: Error) => {
      state.ready = redis.status === 'ready'
      if (closing || state.errors.note() === undefined) return
      state.errorLogged = true
      // The URL may hold a password: never logged.
      log.error({ event: 'redis_error', role, err: err.message }, 'Redis unreachable or failing (logged once a minute per connection)')
    })
    return redis
  }

  const dbConn = connect('persistence')
  const subConn = connect('subscriber')
  const pubConn = connect('publisher')
  const mq = mqemitterRedis({ subConn, pubConn, concurrency: opts.concurrency, matchEmptyLevels: true })
  // mqemitter-redis re-emits connection errors on its state emitter; the connection handlers above log them.
  ;(mq as { state: { on(ev: string, f: (e: Error) => void): void } }).state.on('error', () => undefined)
  // aedes closes the mq when the broker closes. mqemitter-redis 7 (close) then calls quit() on both
  // connections without handling its promise and waits for their 'end' with no bound: with Redis
  // away the QUIT waits in ioredis' offline queue, so the broker's close never returns, and once
  // the connection is ended the queued QUIT rejects ("Connection is closed.") with nobody to
  // catch it, which stops the process (Node's default for an unhandled rejection).
  const mqInternals = mq as unknown as { closed?: boolean; closing?: boolean; _close(cb: () => void): void }
  ;(mq as { close(cb?: () => void): void }).close = (cb = () => undefined) => {
    if (mqInternals.closed || mqInternals.closing) return cb()
    mqInternals.closing = true
    closing = true
    void Promise.all([endConnection(subConn), endConnection(pubConn)]).then(() => mqInternals._close(cb))
  }
  // Before aedes exists: it adds the listeners of restored sessions as it starts.
  const interest = new PeerInterest(mq as unknown as RedisBus, {
    runId,
    heartbeatMs,
    metrics: opts.metrics,
    log,
    onLost: (filter) => {
      lostAnnouncements.inc({ what: 'interest' })
      log.warn(
        { event: 'mqtt_announcement_lost', what: 'interest', filter },
        "a subscription was answered without this node's interest in its filter coming back through Redis",
      )
    },
  })
  interest.install()
  // Before aedes exists, so before its persistence loads the routing table this follows.
  const routed = new RoutedSubscriptions(mq)
  const persistence = boundedRedisPersistence({
    conn: dbConn,
    maxQueued: opts.maxQueued,
    onDrop: opts.onDrop,
    storable: opts.storable,
    onAnnouncementLost: (client, what) => {
      lostAnnouncements.inc({ what })
      log.warn(
        { event: 'mqtt_announcement_lost', client, what },
        'a subscription change was answered without its announcement coming back through Redis',
      )
    },
  })

  const up = (): boolean => [...conns.values()].every((c) => c.ready)
  opts.metrics.gaugeReading('redis_up', 'Whether every Redis connection of this node is ready (1) or not (0); cluster mode only', () =>
    up() ? 1 : 0,
  )
  const moved = new Map<string, number>()
  let local: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  let aedesRef: Aedes | undefined
  let sweeper: WillSweeper | undefined
  type WillStore = {
    delWill(c: { id: string; brokerId: string }): Promise<unknown>
    putWill(
      c: { id: string },
      packet: { cmd: 'publish'; topic: string; payload: Buffer; qos: 1; retain: boolean; dup: boolean },
    ): Promise<unknown>
  }
  const willStore = (): WillStore | undefined => (aedesRef as unknown as { persistence: WillStore } | undefined)?.persistence
  // Per session, its bookkeeping in Redis, so that the end of a session waits for its start.
  const recorded = new WeakMap<Client, Promise<boolean>>()
  // Integrations' sessions: their node record is deleted when they end (see sessionEnded).
  const integrations = new WeakSet<Client>()
  // Ends of sessions still deleting their will: a clean stop waits for them before closing Redis.
  const endings = new Set<Promise<unknown>>()
  const recordFailed = (client: Client) => (err: Error) => {
    log.warn(
      { event: 'mqtt_session_record_failed', client: client.id, err: err.message },
      "could not record a session's node (and a device's will) in Redis",
    )
    return false
  }
  /** Remembers that the local client `clientId` was taken over by a session on another node. */
  const markMoved = (clientId: string): void => {
    const now = Date.now()
    for (const [id, at] of moved) if (at < now - MOVED_MEMORY_MS) moved.delete(id)
    moved.set(clientId, now)
  }
  // Registered before aedes' own handler (closeSameClients, which closes the local client and so
  // starts its will): mqemitter calls a topic's listeners in the order they were added.
  ;(mq as { on(topic: string, f: (p: { topic: string; payload: Buffer | string }, done: () => void) => void): void }).on(
    '$SYS/+/new/clients',
    (packet, done) => {
      const serverId = packet.topic.split('/')[1]
      const clientId = packet.payload.toString()
      if (serverId !== runId && local[clientId]) markMoved(clientId)
      done()
    },
  )

  return {
    nodeId,
    runId,
    aedesOptions: { id: runId, heartbeatInterval: heartbeatMs, mq, persistence },
    sessions: new SharedPersistentSessions(dbConn, opts.maxPersistentSessionsPerIdentity),
    up,
    watch(aedes: Aedes): void {
      local = (aedes as unknown as { clients: Record<string, unknown> }).clients
      aedesRef = aedes
      sweeper = willSweeper(aedes, { heartbeatMs, log: opts.log, metrics: opts.metrics })
      const subscriptionsOf = storedSubscriptions(persistence)
      routed
        .load(dbConn, subscriptionsOf)
        .catch((err: Error) =>
          log.warn({ event: 'mqtt_subscriptions_read_failed', err: err.message }, 'could not read the stored subscriptions at start'),
        )
      afterSubscriberLoss = subscriberLossRecovery({
        db: dbConn,
        runId,
        latestRun: (clientId) => dbConn.get(clientNodeKey(clientId)),
        subscriptionsOf,
        routed,
        mq,
        local,
        recorded,
        markMoved,
        log,
      })
    },
    movedAway: (clientId) => moved.has(clientId),
    sessionStarted(client, device): void {
      const ownWill = (client as unknown as { will?: unknown }).will
      const work = (async (): Promise<boolean> => {
        const previous = await dbConn.set(clientNodeKey(client.id), runId, 'EX', CLIENT_NODE_TTL_S, 'GET')
        // An integration's will is its own message, not a status this record could contradict:
        // left to the sweep, as aedes alone would.
        if (!device) return false
        if (previous !== null && previous !== runId) await willStore()?.delWill({ id: client.id, brokerId: previous })
        if (ownWill) return false
        await willStore()?.putWill({ id: client.id }, { cmd: 'publish', ...device.offlineWill, qos: 1, retain: true, dup: false })
        return true
      })().catch(recordFailed(client))
      recorded.set(client, work)
      if (!device) integrations.add(client)
    },
    sessionEnded(client): void {
      const work = recorded.get(client)
      if (!work) return
      recorded.delete(client)
      const ending: Promise<unknown> = work
        .then(async (gatewayWill) => {
          // A newer session with the same id on this node owns the will and the record now.
          if (local[client.id] !== undefined && local[client.id] !== client) return
          // An integration's record serves only while its session is live, and integrations may
          // take a new random client id at each connect (mqtt.js does by default): kept for the
          // key's 30 days, those would pile up. A device's stays: its next session, on any node,
          // deletes the will this one may leave behind.
          if (integrations.has(client)) await dbConn.eval(DELETE_IF_SCRIPT, 1, clientNodeKey(client.id), runId)
          else if (gatewayWill) await willStore()?.delWill({ id: client.id, brokerId: runId })
        })
        .catch(recordFailed(client))
        .finally(() => endings.delete(ending))
      endings.add(ending)
    },
    async publishOwnWills(aedes: Aedes): Promise<number> {
      if (aedesRef !== aedes || !sweeper) throw new Error('publishOwnWills before watch')
      const { published } = await sweeper.sweep(previousRun)
      if (published > 0) log.info({ event: 'mqtt_previous_wills', published }, "wills left by this node's previous run published")
      return published
    },
    beginClose(): void {
      closing = true
    },
    async close(): Promise<void> {
      sweeper?.stop()
      interest.stop()
      await Promise.allSettled([...endings])
      closing = true
      await Promise.all([...conns.values()].map(({ redis }) => endConnection(redis)))
    },
  }
}
