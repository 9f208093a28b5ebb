// What a node does once its Redis subscriber connection is back from a loss (cluster.ts): Redis
// pub/sub delivers at most once, so what the other nodes published meanwhile never reached it.
// Two of those messages leave state behind that nothing else repairs (docs/operations.md "MQTT
// across nodes"); the node's own subscription announcements are covered by redis-queue.ts.
import type { Redis } from 'ioredis'
import type { Client } from 'aedes'
import type { Logger } from '../log/logger.ts'

export interface RecoveryDeps {
  /** The persistence's connection. */
  db: Redis
  /** This run of the node (cluster.ts runIdOf). */
  runId: string
  /** The node run a client id's latest session started on, as recorded in Redis (cluster.ts clientNodeKey). */
  latestRun: (clientId: string) => Promise<string | null>
  /** aedes' persistence option (redis-queue.ts boundedRedisPersistence). */
  persistence: object
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
    reloadSubscriptions(d)
      .then((subs) =>
        d.log.info({ event: 'mqtt_subscriptions_reloaded', subs }, 'routing table filled again from the subscriptions in Redis'),
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
 * A subscription another node announced (`$SYS/sub/add`) while the subscriber was away is
 * missing from this node's routing table (aedes-persistence's, by which a message published here
 * is queued for offline persistent sessions): it is filled again from the subscriptions stored in
 * Redis, each client's handed to the handler the announcements reach, on this node only
 * (mqemitter's local emit). One removed meanwhile stays in the table (queued messages for it are
 * bounded by mqtt.maxQueuedMessages) until the node restarts. Answers how many were reloaded.
 */
async function reloadSubscriptions(d: RecoveryDeps): Promise<number> {
  const store = (d.persistence as { asyncPersistence: { subscriptionsByClient(c: { id: string }): Promise<object[]> } }).asyncPersistence
  const emitHere = (d.mq as { _emit(packet: { topic: string; payload: string }): void })._emit.bind(d.mq)
  let subs = 0
  // The set of clients with stored subscriptions, as aedes-persistence-redis keeps it (CLIENTSKEY).
  for (const clientId of await d.db.smembers('clients')) {
    const stored = await store.subscriptionsByClient({ id: clientId })
    if (stored.length === 0) continue
    emitHere({ topic: '$SYS/sub/add', payload: JSON.stringify({ clientId, subs: stored }) })
    subs += stored.length
  }
  return subs
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
