// aedes-persistence-redis with the same two rules offline-queue.ts adds to the memory persistence:
// each persistent session's outgoing queue is bounded at `mqtt.maxQueuedMessages` (oldest dropped
// and counted, as mosquitto's `max_queued_messages`), and only granted subscriptions are stored.
//
// The stock Redis persistence keeps, per client, a list `outgoing:{client id}` of packet keys
// (`packet:{broker id}:{counter}`), and per packet a count `…:offlineCount` of the lists holding
// it; the packet is deleted when that count reaches 0. It never trims the list, so a subscriber to
// `devices/+/telemetry` that stays away grows Redis without bound, shared by every node. Here,
// after each enqueue, one Lua script (atomic, so nodes enqueueing for the same client at once
// never drop more than the excess) pops the oldest keys past the bound and releases their packets.
import type { Redis } from 'ioredis'
import { createRequire } from 'node:module'
import { storeGrantedOnly } from './granted-subscriptions.ts'

const require = createRequire(import.meta.url)

interface QueuedPacket {
  topic?: string
}
type ClientRef = { id: string }

interface RedisPersistenceBase {
  outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: QueuedPacket): Promise<void>
  addSubscriptions(client: ClientRef, subs: object[]): Promise<void>
  removeSubscriptions(client: ClientRef, subs: string[]): Promise<void>
}

const AsyncRedisPersistence = require('aedes-persistence-redis/asyncPersistence.js') as new (opts: {
  conn: Redis
  maxSessionDelivery: number
}) => RedisPersistenceBase
const { CallBackPersistence } = require('aedes-persistence/callBackPersistence.js') as {
  CallBackPersistence: new (factory: (opts: object) => RedisPersistenceBase, opts?: object) => object
}

/** Pops what is past ARGV[1] in the list KEYS[1] (oldest first) and releases those packets. */
const TRIM_SCRIPT = `
local excess = redis.call('LLEN', KEYS[1]) - tonumber(ARGV[1])
if excess <= 0 then return {} end
local popped = redis.call('LPOP', KEYS[1], excess)
for _, key in ipairs(popped) do
  local left = redis.call('DECR', key .. ':offlineCount')
  if left <= 0 then redis.call('DEL', key, key .. ':offlineCount') end
end
return popped
`

export interface RedisQueueOptions {
  /** The connection the persistence uses (cluster.ts owns it). */
  conn: Redis
  /** Messages kept per client at most. */
  maxQueued: number
  /** Called for each message dropped to keep a queue within the bound (the packet key only). */
  onDrop: (clientId: string, packetKey: string) => void
  /** Whether one entry of a SUBSCRIBE may be stored (offline-queue.ts OfflineQueueOptions.storable). */
  storable?: ((sub: object) => boolean) | undefined
  /** Called when a (un)subscription's own announcement never came back (see `announced`). */
  onAnnouncementLost?: ((clientId: string, what: 'subscribe' | 'unsubscribe') => void) | undefined
}

/** How long a node waits for its own subscription announcement to come back through Redis. */
const ANNOUNCE_WAIT_MS = 3_000
/** Announcements sent for one (un)subscription before it is answered without one. */
const ANNOUNCE_ATTEMPTS = 3

/**
 * The stock persistence stores a subscription in Redis, announces it on `$SYS/sub/add` (every
 * node adds it to the table it routes queued messages by) and waits, without a bound, for its own
 * announcement to come back through its Redis subscriber connection before aedes sends the
 * SUBACK. Redis pub/sub delivers at most once: a subscriber connection that drops and reconnects
 * (200 ms later) loses what was published meanwhile, and the client then waits for its SUBACK for
 * ever. Here the wait is bounded: the whole step (idempotent: a set add, a hash write and the
 * announcement) is repeated up to ANNOUNCE_ATTEMPTS times, then the client is answered anyway,
 * its subscription stored, and `onLost` says so (the other nodes most likely got the
 * announcement: only this node's copy is known lost).
 */
async function announced(op: () => Promise<void>, onLost: () => void): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const step = op()
    // A late answer of an attempt given up on has nobody waiting for it.
    step.catch(() => undefined)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), ANNOUNCE_WAIT_MS)
    })
    const outcome = await Promise.race([step.then(() => 'done' as const), late]).finally(() => clearTimeout(timer))
    if (outcome === 'done') return
    if (attempt === ANNOUNCE_ATTEMPTS) return onLost()
  }
}

/** The stock persistence's key for a client's outgoing list (asyncPersistence.js outgoingKey). */
function outgoingKey(clientId: string): string {
  return `outgoing:${encodeURIComponent(clientId)}`
}

/**
 * The connection as the stock persistence sees it: every command's promise has a handler. Some
 * commands it sends without waiting for them (aedes-persistence-redis 11: the LREM and RPUSH of
 * putWill, the LREM of delWill and of a queued packet found missing); when Redis goes away, or the
 * connection is closed at shutdown while one is on its way, ioredis rejects it ("Connection is
 * closed.") with nobody listening, and Node stops the process on an unhandled rejection. Callers
 * that wait for a command still get its rejection: the added handler is a second one.
 */
export function withHandledCommands(conn: Redis): Redis {
  const wrapped = new Map<PropertyKey, unknown>()
  return new Proxy(conn, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target)
      if (typeof value !== 'function') return value
      let fn = wrapped.get(prop)
      if (!fn) {
        fn = (...args: unknown[]): unknown => {
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args)
          if (result instanceof Promise) result.catch(() => undefined)
          return result
        }
        wrapped.set(prop, fn)
      }
      return fn
    },
  })
}

const NOTHING = Promise.resolve()

class BoundedRedisPersistence extends AsyncRedisPersistence {
  private readonly storeGranted: ReturnType<typeof storeGrantedOnly>

  constructor(private readonly bound: RedisQueueOptions) {
    // The whole bounded queue is streamed to a reconnecting session (the stock default is 1,000).
    super({ conn: withHandledCommands(bound.conn), maxSessionDelivery: bound.maxQueued })
    this.storeGranted = storeGrantedOnly(bound.storable)
  }

  override outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: QueuedPacket): Promise<void> {
    // aedes asks for every message published; nearly all (telemetry) have no offline session to
    // be queued for, and two async frames made garbage for each.
    if (!subs || subs.length === 0) return NOTHING
    return this.enqueueAndTrim(subs, packet)
  }

  private async enqueueAndTrim(subs: Array<{ clientId: string }>, packet: QueuedPacket): Promise<void> {
    await super.outgoingEnqueueCombi(subs, packet)
    for (const sub of subs) {
      const dropped = (await this.bound.conn.eval(TRIM_SCRIPT, 1, outgoingKey(sub.clientId), this.bound.maxQueued)) as string[]
      for (const key of dropped) this.bound.onDrop(sub.clientId, key)
    }
  }

  override addSubscriptions(client: ClientRef, subs: object[]): Promise<void> {
    return this.storeGranted(subs, (kept) =>
      announced(
        () => super.addSubscriptions(client, kept),
        () => this.bound.onAnnouncementLost?.(client.id, 'subscribe'),
      ),
    )
  }

  override removeSubscriptions(client: ClientRef, subs: string[]): Promise<void> {
    return announced(
      () => super.removeSubscriptions(client, subs),
      () => this.bound.onAnnouncementLost?.(client.id, 'unsubscribe'),
    )
  }
}

/** aedes' `persistence` option: aedes-persistence-redis with bounded outgoing queues. */
export function boundedRedisPersistence(opts: RedisQueueOptions): object {
  return new CallBackPersistence(() => new BoundedRedisPersistence(opts))
}
