// What a node does once its Redis subscriber connection is back from a loss (cluster.ts): Redis
// pub/sub delivers at most once, so what the other nodes published meanwhile never reached it.
// Two of those messages leave state behind that nothing else repairs (docs/operations.md "MQTT
// across nodes"); the node's own subscription announcements are covered by redis-queue.ts.
import type { Redis } from 'ioredis'
import type { Client } from 'aedes'
import type { Logger } from '../log/logger.ts'

/** aedes-persistence's announcements of stored subscriptions (broadcastPersistence.js). */
const ADDED = '$SYS/sub/add'
const REMOVED = '$SYS/sub/rm'

/** A subscription as aedes-persistence-redis stores it (subscriptionsByClient). */
interface StoredSubscription {
  topic: string
  qos: number
}

/** An announcement's payload (broadcastPersistence.js brokerPublish); a removal names topics only. */
interface Announcement {
  clientId: string
  subs: Array<{ topic: string; qos?: number }>
}

type BusPacket = { topic: string; payload: Buffer | string }

/** mqemitter-redis as used here. */
interface Bus {
  on(topic: string, f: (packet: BusPacket, done: () => void) => void): void
  /** mqemitter's own emit, kept by mqemitter-redis: this node's listeners only, nothing sent to Redis. */
  _emit(packet: BusPacket): void
}

type SubscriptionsOf = (clientId: string) => Promise<StoredSubscription[]>

/**
 * The subscriptions this node's routing table may hold, by client id. That table is private to
 * aedes-persistence-redis (asyncPersistence.js #trie) and nothing in its API lists it: it is
 * loaded from Redis at start and then follows the announcements alone. This hears the same
 * announcements from before that load and applies the same rules, and reads Redis itself once the
 * table is loaded, so that it holds at least what the table holds (a topic it holds in excess
 * costs a removal that finds nothing).
 */
export class RoutedSubscriptions {
  private readonly byClient = new Map<string, Set<string>>()

  /** To be made before aedes loads its table (its persistence's setup), so no announcement escapes it. */
  constructor(mq: object) {
    ;(mq as Bus).on('$SYS/sub/+', (packet, done) => {
      this.heard(packet)
      done()
    })
  }

  /** Once aedes has loaded its table: takes in what it was loaded with, every stored subscription whatever its QoS. */
  async load(db: Redis, subscriptionsOf: SubscriptionsOf): Promise<void> {
    for (const clientId of await storedClients(db)) {
      for (const sub of await subscriptionsOf(clientId)) this.add(clientId, sub.topic)
    }
  }

  clientIds(): string[] {
    return [...this.byClient.keys()]
  }

  topicsOf(clientId: string): string[] {
    return [...(this.byClient.get(clientId) ?? [])]
  }

  // As broadcastPersistence.js does: an announced QoS 0 subscription leaves the table (only QoS 1
  // and 2 are queued for an offline session), a QoS 0 one loaded at start stays.
  private heard(packet: BusPacket): void {
    if (packet.topic !== ADDED && packet.topic !== REMOVED) return
    const { clientId, subs } = JSON.parse(packet.payload.toString()) as Announcement
    for (const sub of subs) {
      if (packet.topic === ADDED && (sub.qos ?? 0) > 0) this.add(clientId, sub.topic)
      else this.remove(clientId, sub.topic)
    }
  }

  private add(clientId: string, topic: string): void {
    let topics = this.byClient.get(clientId)
    if (!topics) this.byClient.set(clientId, (topics = new Set()))
    topics.add(topic)
  }

  private remove(clientId: string, topic: string): void {
    const topics = this.byClient.get(clientId)
    if (topics?.delete(topic) && topics.size === 0) this.byClient.delete(clientId)
  }
}

/** The clients with stored subscriptions, as aedes-persistence-redis keeps them (CLIENTSKEY). */
function storedClients(db: Redis): Promise<string[]> {
  return db.smembers('clients')
}

/** Reads a client's stored subscriptions through aedes' persistence option (redis-queue.ts boundedRedisPersistence). */
export function storedSubscriptions(persistence: object): SubscriptionsOf {
  const store = (persistence as { asyncPersistence: { subscriptionsByClient(c: { id: string }): Promise<StoredSubscription[]> } })
    .asyncPersistence
  return (clientId) => store.subscriptionsByClient({ id: clientId })
}

export interface RecoveryDeps {
  /** The persistence's connection. */
  db: Redis
  /** This run of the node (cluster.ts runIdOf). */
  runId: string
  /** The node run a client id's latest session started on, as recorded in Redis (cluster.ts clientNodeKey). */
  latestRun: (clientId: string) => Promise<string | null>
  /** A client's subscriptions stored in Redis (storedSubscriptions). */
  subscriptionsOf: SubscriptionsOf
  /** What this node's routing table may hold. */
  routed: RoutedSubscriptions
  /** aedes' mq (mqemitter-redis). */
  mq: object
  /** aedes' table of local clients by id. */
  local: Record<string, unknown>
  /** Per local session, its record of node (and a device's will) in Redis (cluster.ts sessionStarted). */
  recorded: WeakMap<Client, Promise<boolean>>
  /** Remembers a local client as taken over by another node (its will and offline status are not published). */
  markMoved: (clientId: string) => void
  log: Logger
}

/** Returns what to run once the subscriber is ready again; it logs what it did and any failure. */
export function subscriberLossRecovery(d: RecoveryDeps): () => void {
  return () => {
    matchStoredSubscriptions(d)
      .then(({ subs, removed }) =>
        d.log.info({ event: 'mqtt_subscriptions_reloaded', subs, removed }, 'routing table matched again to the subscriptions in Redis'),
      )
      .catch((err: Error) =>
        d.log.warn({ event: 'mqtt_subscriptions_reload_failed', err: err.message }, 'could not reload the subscriptions from Redis'),
      )
    closeTakenOver(d).catch((err: Error) =>
      d.log.warn({ event: 'mqtt_takeover_check_failed', err: err.message }, 'could not check local sessions for takeovers missed'),
    )
  }
}

/**
 * This node's routing table (aedes-persistence's, by which a message published here is queued for
 * offline persistent sessions) follows the other nodes' announcements, and missed those made while
 * the subscriber was away: a subscription added (`$SYS/sub/add`) is missing, so messages published
 * here are not queued for it; one removed (`$SYS/sub/rm`: an UNSUBSCRIBE, a clean session replacing
 * a persistent one) is still there, so they are queued for a session that no longer asked for
 * them, and delivered to it when it comes back. Each client's entries are made to match what Redis
 * stores for it, through the handler the announcements reach, on this node only (mqemitter's local
 * emit), right after reading them: a change another node stores after that read is announced, and
 * heard, after them.
 * Answers how many subscriptions were reloaded and how many removed.
 */
async function matchStoredSubscriptions(d: RecoveryDeps): Promise<{ subs: number; removed: number }> {
  const emitHere = (topic: string, announcement: Announcement): void =>
    (d.mq as Bus)._emit({ topic, payload: JSON.stringify(announcement) })
  let subs = 0
  let removed = 0
  const clientIds = new Set([...(await storedClients(d.db)), ...d.routed.clientIds()])
  for (const clientId of clientIds) {
    const stored = await d.subscriptionsOf(clientId)
    const gone = notStored(d.routed.topicsOf(clientId), stored)
    if (stored.length > 0) emitHere(ADDED, { clientId, subs: stored })
    if (gone.length > 0) emitHere(REMOVED, { clientId, subs: gone.map((topic) => ({ topic })) })
    subs += stored.length
    removed += gone.length
  }
  return { subs, removed }
}

function notStored(topics: string[], stored: StoredSubscription[]): string[] {
  const kept = new Set(stored.map((s) => s.topic))
  return topics.filter((t) => !kept.has(t))
}

/**
 * A `$SYS/{id}/new/clients` lost while the subscriber was away leaves a local session open that
 * a newer one on another node replaced (MQTT-3.1.4-2). Every session, a device's or an
 * integration's, records its latest node run (cluster.ts clientNodeKey): once this node's own
 * record of a session is written, a key naming another run means a newer session there, and the
 * local one is closed as aedes' closeSameClients would.
 */
async function closeTakenOver(d: RecoveryDeps): Promise<void> {
  type LocalClient = Client & { closed?: boolean }
  const sessions = Object.values(d.local).filter((c): c is LocalClient => d.recorded.has(c as Client))
  let closed = 0
  for (const client of sessions) {
    await d.recorded.get(client)
    const latest = await d.latestRun(client.id)
    if (latest === null || latest === d.runId || d.local[client.id] !== client || client.closed) continue
    d.markMoved(client.id)
    client.close()
    closed++
  }
  if (closed > 0)
    d.log.warn(
      { event: 'mqtt_takeovers_missed', closed },
      'closed local sessions taken over on another node while the Redis subscriber was away',
    )
}
