import { createHash, randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import Type from 'typebox'
import { Compile } from 'typebox/compile'
import { decodeJson } from '../util/schema-error.ts'
import { connectPubSub } from '../cluster/redis-pubsub.ts'
import { CountedLog } from '../log/counted-log.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import {
  addressKey,
  alignedWindow,
  AUTH_FAILURE_WINDOW_MS,
  windowCounter,
  type AuthFailureLimiter,
  type AuthFailureLimits,
  type WindowCounter,
} from './auth-failures.ts'

// Failed authentications counted by every node of a cluster together (docs/operations.md "Failed
// logins across nodes"), so a guesser gains nothing by landing on several nodes.
//
// The limiter stays synchronous: MQTT CONNECT and the HTTP auth hook never wait for Redis. Each
// node keeps the windows in memory, as a mirror of the cluster's counts:
//
// - `fail()` counts in the mirror at once, then adds the failure to Redis (HINCRBY on the hash
//   `iocgw:authfail:{window start}`, field `{counter}|{key}`, expiring after two windows). Redis
//   answers the cluster's count of that window, which the node keeps, and publishes on
//   `iocgw:authfail` as `{node, window, counter, key, count}`.
// - Every node raises its mirror to a published count (never lowers it): a count heard twice, late
//   or out of order changes nothing, and the sender's own message is skipped (it holds the count
//   already; the max would make it harmless anyway). Counts, not "+1" deltas, are sent, so nothing
//   is counted twice.
// - At start and after each reconnection, once subscribed again, the node reads the current
//   window's hash: failures counted elsewhere while it was not listening are in its mirror, and the
//   counts are exact cluster-wide (one HGETALL, rather than a SCAN over the keys of every window).
//
// Windows are the minutes of each node's clock (aligned, so every node names the same window). A
// node whose clock is s seconds ahead moves to the next minute s seconds early: for those s
// seconds around each minute's edge the nodes count into different windows, so up to twice the
// limit may pass at that edge (the burst any fixed window allows), and Retry-After may be off by s.
// A few seconds of skew cost that much; run NTP on the nodes.
//
// Redis unreachable: the node goes on counting in its mirror alone (its limits are then per node),
// failures Redis did not take are counted (`unsent`) and not sent later; one warning per outage,
// `auth_failures_shared` 0 until the node is subscribed and has read the window again. A window is
// a minute, so that is the longest the limits stay per node after Redis is back.
//
// Keys (addresses, user names) travel and are stored as a SHA-256 digest: a secret typed as a user
// name (a token pasted in the wrong field) never reaches Redis or its MONITOR in clear. A digest
// of a low-entropy value (an IPv4 address) hides nothing, and need not.

const CHANNEL = 'iocgw:authfail'
const HASH_PREFIX = 'iocgw:authfail:'
/** A window's hash outlives it by a window: enough for a node whose clock is behind to read it. */
const HASH_TTL_MS = 2 * AUTH_FAILURE_WINDOW_MS
/** base64url of the first 16 bytes of SHA-256. */
const KEY_LENGTH = 22
const INVALID_LOG_MS = 60_000

const Shared = Type.Object({
  /** The sending node's run (node id and a random suffix: two nodes given one id still differ). */
  node: Type.String({ minLength: 1, maxLength: 100 }),
  window: Type.Integer({ minimum: 0, multipleOf: AUTH_FAILURE_WINDOW_MS }),
  counter: Type.String({ pattern: '^[a-z]+:(address|username)$' }),
  key: Type.String({ pattern: `^[A-Za-z0-9_-]{${KEY_LENGTH}}$` }),
  count: Type.Integer({ minimum: 1 }),
})
type SharedCount = Type.Static<typeof Shared>
const checkShared = Compile(Shared)

/** The published count, or what is wrong with the message (a node of another version, or anyone with access to Redis). */
export function decodeSharedCount(message: string): SharedCount | string {
  return decodeJson(checkShared, message)
}

const digest = (key: string): string => createHash('sha256').update(key).digest('base64url').slice(0, KEY_LENGTH)

export interface SharedAuthFailuresOptions {
  redisUrl: string
  nodeId: string
  logger: Logger
  metrics: Metrics
  now?: () => number
}

export interface SharedAuthFailures {
  /**
   * A limiter whose counts every node shares. `name` (lower-case letters) keeps its counts apart
   * from the other limiters' (`auth`: HTTP and MQTT; `login`: console user names), and must name
   * the same limiter, with the same limits, on every node.
   */
  limiter(name: string, limits: AuthFailureLimits): AuthFailureLimiter
  /** True while failures are shared: both connections up, the subscription confirmed and the window read since. */
  shared(): boolean
  close(): Promise<void>
}

export function sharedAuthFailures(o: SharedAuthFailuresOptions): SharedAuthFailures {
  const now = o.now ?? Date.now
  const run = `${o.nodeId}~${randomBytes(4).toString('hex')}`
  const log = o.logger.child({ component: 'auth-failures' })
  const counters = new Map<string, WindowCounter>()
  const messages = o.metrics.counter(
    'auth_failures_shared_total',
    'Cluster mode: failed-authentication counts shared through Redis, by outcome (sent, unsent, applied, invalid)',
    ['outcome'],
  )
  let closed = false
  let subscribed = false
  /** Whether the current window was read since both connections last came up. */
  let synced = false
  /** Whether the current outage was logged: once per outage. */
  let outage = false
  // Counted each, logged at most once a minute: whoever floods the channel does not flood the log.
  const invalidLog = new CountedLog(INVALID_LOG_MS, now)
  const refusedLog = new CountedLog(INVALID_LOG_MS, now)

  const connect = (role: string, use: 'publish' | 'subscribe'): Redis =>
    connectPubSub({ url: o.redisUrl, nodeId: o.nodeId, role, use, component: 'auth-failures', logger: o.logger, closing: () => closed })
  const pub = connect('authfail-pub', 'publish')
  const sub = connect('authfail-sub', 'subscribe')
  const connected = (): boolean => !closed && subscribed && pub.status === 'ready'
  const shared = (): boolean => connected() && synced
  o.metrics.gaugeReading(
    'auth_failures_shared',
    'Cluster mode: whether failed authentications are counted with the other nodes (1) or by this node alone (0)',
    () => (shared() ? 1 : 0),
  )

  const down = (why: string): void => {
    if (closed || outage) return
    outage = true
    log.warn(
      { event: 'auth_failures_local', reason: why },
      'auth failures: Redis unreachable, failed authentications are counted by this node alone until it is back',
    )
  }
  const badMessage = (problem: string, from: string | undefined): void => {
    messages.inc({ outcome: 'invalid' })
    const invalid = invalidLog.note()
    if (invalid === undefined) return
    log.warn(
      { event: 'auth_failures_invalid', problem, node: from?.slice(0, 100), messages: invalid },
      'auth failures: shared count unreadable, ignored',
    )
  }

  /** Raises the mirror to the current window's counts in Redis: what was counted while this node was not listening. */
  const resync = async (): Promise<void> => {
    if (!connected()) return
    const window = alignedWindow(now())
    const fields = await pub.hgetall(HASH_PREFIX + window)
    for (const [field, value] of Object.entries(fields)) {
      const [counter, key] = field.split('|')
      const c = counter === undefined ? undefined : counters.get(counter)
      const count = Number(value)
      if (!c || key?.length !== KEY_LENGTH || !Number.isInteger(count) || count < 1) {
        badMessage(`stored field ${counter ?? ''} unknown or its count ${value.slice(0, 20)} not a positive integer`, undefined)
        continue
      }
      c.raise(key, window, count)
    }
    synced = connected()
    if (outage && synced) {
      outage = false
      log.info(
        { event: 'auth_failures_shared' },
        'auth failures: Redis reachable again, failed authentications counted with the other nodes',
      )
    }
  }
  const resyncLater = (): void => {
    resync().catch((err: Error) => down(err.message))
  }

  sub.on('message', (channel: string, message: string) => {
    if (channel !== CHANNEL || closed) return
    const m = decodeSharedCount(message)
    if (typeof m === 'string') return badMessage(m, undefined)
    if (m.node === run) return
    const c = counters.get(m.counter)
    if (!c) return badMessage(`unknown counter ${m.counter} (the limiters differ between nodes?)`, m.node)
    c.raise(m.key, m.window, m.count)
    messages.inc({ outcome: 'applied' })
  })
  // ioredis subscribes again by itself after a reconnection; subscribing here too is how this node
  // learns when that took effect, and only then is reading the window free of a gap.
  sub.on('ready', () => {
    sub
      .subscribe(CHANNEL)
      .then(() => {
        subscribed = true
        resyncLater()
      })
      .catch((err: Error) => down(err.message))
  })
  sub.on('close', () => {
    subscribed = false
    synced = false
    down('subscriber connection closed')
  })
  pub.on('ready', resyncLater)
  pub.on('close', () => {
    synced = false
    down('publisher connection closed')
  })

  const send = (counter: string, key: string, window: number): void => {
    if (closed) return
    const field = `${counter}|${key}`
    pub
      .multi()
      .hincrby(HASH_PREFIX + window, field, 1)
      .pexpire(HASH_PREFIX + window, HASH_TTL_MS)
      .exec()
      .then((replies) => {
        const count = replies?.[0]?.[1]
        if (typeof count !== 'number') throw new Error('HINCRBY answered no count')
        counters.get(counter)?.raise(key, window, count)
        const message: SharedCount = { node: run, window, counter, key, count }
        return pub.publish(CHANNEL, JSON.stringify(message))
      })
      .then(() => messages.inc({ outcome: 'sent' }))
      .catch((err: Error) => {
        // Counted here already; the other nodes do not hear of it (a reconnection reads only what Redis holds).
        messages.inc({ outcome: 'unsent' })
        if (!connected()) return down(err.message)
        // Redis connected but refusing (out of memory, a read-only replica): no outage whose end a
        // reconnection would announce, so logged on its own, at most once a minute.
        if (refusedLog.note() === undefined) return
        log.warn(
          { event: 'auth_failures_unsent', err: err.message },
          'auth failures: Redis refused a failure count; counted by this node alone',
        )
      })
  }

  return {
    limiter(name, limits) {
      if (!/^[a-z]+$/.test(name)) throw new Error(`auth failures: limiter name ${name} must be lower-case letters`)
      const maxKeys = limits.maxKeys ?? 10_000
      // The hub's clock, not `limits.now`: the windows read from Redis are named by it.
      const byAddress = windowCounter(limits.perAddressPerMinute, maxKeys, now, true)
      const byUsername = windowCounter(limits.perUsernamePerMinute ?? limits.perAddressPerMinute, maxKeys, now, true)
      const a = `${name}:address`
      const u = `${name}:username`
      if (counters.has(a)) throw new Error(`auth failures: limiter ${name} made twice`)
      counters.set(a, byAddress)
      counters.set(u, byUsername)
      const count = (counter: string, c: WindowCounter, key: string): void => send(counter, key, c.fail(key).start)
      return {
        blocked(address, username) {
          const byAddr = byAddress.retryAfter(digest(addressKey(address)))
          return username === undefined ? byAddr : Math.max(byAddr, byUsername.retryAfter(digest(username)))
        },
        fail(address, username) {
          count(a, byAddress, digest(addressKey(address)))
          if (username !== undefined) count(u, byUsername, digest(username))
        },
      }
    },
    shared,
    async close() {
      closed = true
      for (const r of [sub, pub]) {
        if (r.status === 'end') continue
        await r.quit().catch(() => r.disconnect())
      }
    },
  }
}
