// The wills of a dead node's clients, published by the surviving nodes (docs/operations.md "MQTT
// across nodes"), in place of aedes' own sweep (aedes.js listen, _clearWills), which:
//
// - handles the stored wills in batches of 16 under one Promise.all: one will that
//   authorizePublish refuses (its device deleted) or whose route fails (PostgreSQL away) rejects
//   the batch and ends the sweep, so every will after it waits for the next round, and the refused
//   one is tried again at every round, for ever;
// - publishes a will as a packet of the dead node (its broker id) numbered by the sweeping node.
//   Subscribers keep, per broker id, the highest number delivered (lib/client.js dedupe), so the
//   will is dropped whenever the dead node had numbered past the survivor; and its queued copy
//   for a persistent session is keyed `packet:{dead node}:{number}`, a key the dead node may have
//   used for a message still queued (aedes-persistence-redis packetKey).
//
// Here each will is handled on its own (a few at once): a refusal (hook-state.ts Refusal: no such
// device, topic not permitted, a live session of the device here) drops the will, logged and
// counted; any other failure keeps it for the next round, logged and counted, without holding
// back the others. A will is published as a new message of the sweeping node.
import type { Aedes } from 'aedes'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import { Refusal } from './hook-state.ts'

/** A will as aedes-persistence-redis stores it (putWill): the CONNECT's will, its client id and node. */
export interface StoredWill {
  topic: string
  payload: Buffer | string
  qos: 0 | 1 | 2
  retain: boolean
  clientId: string
  brokerId: string
}

interface WillBroker {
  id: string
  mq: { on(topic: string, f: (p: { payload: Buffer | string }, done: () => void) => void): void }
  persistence: {
    streamWill(brokers: object): AsyncIterable<StoredWill>
    delWill(c: { id: string; brokerId: string }): Promise<unknown>
  }
  authorizePublish(client: null, packet: object, cb: (err?: Error | null) => void): void
  publish(packet: object, cb: (err?: Error) => void): void
  _clearWillInterval?: ReturnType<typeof setInterval>
}

/** Wills handled at once in a sweep. */
const SWEEP_CONCURRENCY = 8

export interface WillSweeper {
  /** One sweep over the stored wills of nodes `dead` answers true for. */
  sweep(dead: (brokerId: string) => boolean): Promise<{ published: number; dropped: number; failed: number }>
  /**
   * Whether a node is dead now: no heartbeat (or birth) seen for 3 × heartbeatMs while this node's
   * own heartbeats came back through Redis all along; never this node.
   */
  isDead(brokerId: string): boolean
  stop(): void
}

export function willSweeper(aedes: Aedes, opts: { heartbeatMs: number; log: Logger; metrics: Metrics }): WillSweeper {
  const b = aedes as unknown as WillBroker
  const { heartbeatMs, log } = opts
  const dropped = opts.metrics.counter(
    'mqtt_wills_dropped_total',
    "Stored wills of a dead node's clients dropped unpublished because the gateway refuses them for good, by reason (unknown_device, superseded, not_permitted, ...)",
    ['reason'],
  )
  const failed = opts.metrics.counter(
    'mqtt_will_sweep_failures_total',
    "Stored wills of a dead node's clients that failed to publish in a sweep (registry or store away); kept for the next sweep",
  )
  // Last heartbeat or birth of each node seen on the bus (aedes keeps heartbeats only: a node
  // started less than a heartbeat ago would look dead, and its clients' wills be published).
  const seen = new Map<string, number>()
  // Since when this node's own heartbeats come back through Redis without a gap: the others'
  // silence means something only over a time the bus worked here (not just after a Redis outage).
  let busUpSince = Number.POSITIVE_INFINITY
  const note = (p: { payload: Buffer | string }, done: () => void): void => {
    const id = p.payload.toString()
    const now = Date.now()
    if (id === b.id && !((seen.get(id) ?? Number.NEGATIVE_INFINITY) + 2 * heartbeatMs >= now)) busUpSince = now
    seen.set(id, now)
    done()
  }
  b.mq.on('$SYS/+/heartbeat', note)
  b.mq.on('$SYS/+/birth', note)
  const alive = (id: string, now: number): boolean => (seen.get(id) ?? Number.NEGATIVE_INFINITY) + 3 * heartbeatMs >= now
  const isDead = (id: string): boolean => {
    const now = Date.now()
    return id !== b.id && busUpSince + 3 * heartbeatMs <= now && !alive(id, now)
  }

  const authorize = (packet: object) =>
    new Promise<void>((resolve, reject) => b.authorizePublish(null, packet, (err) => (err ? reject(err) : resolve())))
  const publish = (packet: object) => new Promise<void>((resolve, reject) => b.publish(packet, (err) => (err ? reject(err) : resolve())))

  async function handle(will: StoredWill): Promise<'published' | 'dropped' | 'failed'> {
    // A new message of this node: its own broker id and the next of its packet numbers.
    const packet = { cmd: 'publish', topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain, dup: false }
    try {
      await authorize(packet)
    } catch (err) {
      if (err instanceof Refusal) {
        await b.persistence.delWill({ id: will.clientId, brokerId: will.brokerId })
        dropped.inc({ reason: err.reason })
        log.warn(
          { event: 'mqtt_will_dropped', client: will.clientId, node: will.brokerId, topic: will.topic, reason: err.reason },
          "a dead node's stored will refused for good; dropped",
        )
        return 'dropped'
      }
      throw err
    }
    await publish(packet)
    await b.persistence.delWill({ id: will.clientId, brokerId: will.brokerId })
    return 'published'
  }

  async function sweep(dead: (brokerId: string) => boolean) {
    const due: StoredWill[] = []
    for await (const will of b.persistence.streamWill({})) if (dead(will.brokerId)) due.push(will)
    const counts = { published: 0, dropped: 0, failed: 0 }
    const errors: string[] = []
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < due.length) {
        const will = due[next++]!
        try {
          counts[await handle(will)]++
        } catch (err) {
          counts.failed++
          failed.inc()
          if (errors.length < 3) errors.push(`${will.clientId}: ${(err as Error).message}`)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(SWEEP_CONCURRENCY, due.length) }, worker))
    if (counts.failed > 0) {
      log.warn(
        { event: 'mqtt_will_sweep_failed', ...counts, errors },
        'some wills of a dead node could not be published; they are kept for the next sweep',
      )
    }
    if (counts.published > 0) log.info({ event: 'mqtt_wills_published', ...counts }, "wills of a dead node's clients published")
    return counts
  }

  // aedes' sweep off (see above); this one at the same interval (4 × heartbeat).
  if (b._clearWillInterval) clearInterval(b._clearWillInterval)
  let running = false
  const timer = setInterval(() => {
    // Nodes gone for good (other runs of a node restarted) are forgotten, here and in aedes.
    const brokers = (aedes as unknown as { brokers: Record<string, number> }).brokers
    const now = Date.now()
    for (const [id, at] of seen) if (at + 10 * heartbeatMs < now) seen.delete(id)
    for (const id of Object.keys(brokers)) if (brokers[id]! + 10 * heartbeatMs < now) delete brokers[id]
    // This node's own heartbeat not back through Redis within the window: the bus is not
    // working here (Redis away), so silence from the others proves nothing.
    if (running || !alive(b.id, now) || busUpSince + 3 * heartbeatMs > now) return
    running = true
    sweep(isDead)
      .catch((err: Error) =>
        log.warn({ event: 'mqtt_will_sweep_failed', err: err.message }, 'the will sweep could not read the stored wills'),
      )
      .finally(() => {
        running = false
      })
  }, 4 * heartbeatMs)
  timer.unref()
  return { sweep, isDead, stop: () => clearInterval(timer) }
}
