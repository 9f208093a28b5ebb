// Telemetry no node listens to stays off Redis (docs/operations.md "MQTT across nodes"). Through
// mqemitter-redis every MQTT message a node routes is a Redis PUBLISH, msgpack-encoded, whether
// or not any subscription in the cluster matches it; device telemetry is nearly every message,
// and only integrations may subscribe to it, with exactly `devices/+/telemetry` or
// `devices/{id}/telemetry` (docs/mqtt.md "What each client may do"). So each node counts its own
// telemetry subscriptions and the nodes share which of them have any, and a node routes a
// device's telemetry to Redis only while some node might have a subscriber. The gateway's own
// ingest does not depend on routing: it stores a reading before the PUBACK, on the node the
// device is connected to; and a QoS 1 message for a persistent session is queued by the
// publishing node from the shared subscriptions before it is routed, routed or not.
//
// The rule that keeps a new subscription from missing a message published after its SUBACK,
// whichever node the publisher is on, with durations only (no clock shared between nodes):
// - A node asks Redis every POLL_MS, in one script that also renews its own entry, whether any
//   node has telemetry subscribers (a sorted set of node runs, each expiring TTL_MS after its last
//   renewal, on Redis' own clock). An answer of none, to a question asked at t, lets the node keep
//   telemetry off Redis until t + QUIET_VALID_MS, measured on its own monotonic clock.
// - A node whose first telemetry subscription arrives adds its entry at once and lets the
//   subscription complete (the SUBACK, or the CONNACK of a resumed session) only ANNOUNCE_MS after
//   Redis answered. Any node that still believes there is none asked before the entry was added,
//   so its belief ends before ANNOUNCE_MS (> QUIET_VALID_MS) has passed.
// A node that cannot reach Redis stops believing within QUIET_VALID_MS and routes everything, as
// before. What is left: a node whose event loop stalls longer than TTL_MS drops out of the set,
// and telemetry published meanwhile on other nodes does not reach its subscribers; so does
// telemetry in the first second after Redis itself restarts empty (its pub/sub loses messages
// then anyway).
//
// Camera frames and command acknowledgements never go to Redis: no subscriber may receive them
// (acl.ts deliverableToNone), and the node a camera is connected to hands its frames to the node
// analysing it on a channel of their own (vision/camera-leases.ts).
import type { Redis } from 'ioredis'
import type { Metrics } from '../metrics/registry.ts'
import { deliverableToNone } from './acl.ts'

const KEY = 'iocgw:mqtt:telemetry-interest'
export const POLL_MS = 1_000
export const QUIET_VALID_MS = 2_000
export const ANNOUNCE_MS = 3_000
const TTL_MS = 30_000
/** A node keeps its entry this long after its last telemetry subscription ended: a session coming back soon finds it there. */
const LINGER_MS = 10_000

/** The subscription filters an integration may use for telemetry (docs/mqtt.md). */
const TELEMETRY_FILTER = /^devices\/(\+|[^/+#]+)\/telemetry$/
const TELEMETRY_TOPIC = /^devices\/[^/+#]+\/telemetry$/

// Renews (or removes) this run's entry, drops expired ones, and answers how many runs are left.
const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(ARGV[2]) > 0 then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
`

type Done = (err?: Error) => void
interface Mq {
  on(topic: string, cb: unknown, done?: Done): unknown
  removeListener(topic: string, cb: unknown, done?: Done): unknown
  emit(msg: { topic: string }, done?: Done): unknown
}

export interface TelemetryInterest {
  /** Whether this node keeps telemetry off Redis now (for tests and the metric). */
  quiet(): boolean
  close(): void
}

/** Wraps aedes' mq (mqemitter-redis) so that what no node may deliver, or no node listens to, is not published to Redis. */
export function routeTelemetryOnlyWhenWatched(mqObject: object, redis: Redis, runId: string, metrics: Metrics): TelemetryInterest {
  const mq = mqObject as Mq
  // Counted per message on the hot path: summed in plain numbers, handed to prom-client when read.
  const counter = metrics.counter(
    'mqtt_not_routed_total',
    'Cluster mode: messages not published to Redis, by why (no_telemetry_subscriber, deliverable_to_none)',
    ['why'],
  )
  const unwatched = metrics.hotCounter(counter, { why: 'no_telemetry_subscriber' })
  const undeliverable = metrics.hotCounter(counter, { why: 'deliverable_to_none' })
  let local = 0
  /** When this node's last telemetry subscription ended (monotonic ms). */
  let lastWatched = Number.NEGATIVE_INFINITY
  /** When Redis confirmed this run's entry (monotonic ms); kept until the entry is removed. */
  let announcedAt: number | undefined
  let announcing: Promise<number> | undefined
  /** When the last question that found no node interested was asked (monotonic ms). */
  let quietSince: number | undefined

  const ask = async (): Promise<number> => {
    const asked = performance.now()
    const entry = local > 0 || asked - lastWatched < LINGER_MS
    if (!entry) {
      // The entry goes with this question: a subscription from now on announces itself afresh.
      announcedAt = undefined
      announcing = undefined
    }
    const runs = Number(await redis.eval(SCRIPT, 1, KEY, runId, entry ? '1' : '0', String(TTL_MS)))
    quietSince = runs === 0 && local === 0 ? asked : undefined
    return runs
  }
  const quiet = (): boolean => local === 0 && quietSince !== undefined && performance.now() - quietSince < QUIET_VALID_MS
  const timer = setInterval(() => {
    // A failed question leaves the last answer to age out: everything is routed meanwhile.
    ask().catch(() => undefined)
  }, POLL_MS)
  timer.unref()
  ask().catch(() => undefined)

  /** Completes a new telemetry subscription once every node routes telemetry (the rule above). */
  const announced = (done: Done | undefined): void => {
    if (announcedAt === undefined) {
      const a = (announcing ??= ask().then((n) => {
        // Unless the subscriptions ended meanwhile (and a new first one asks again).
        if (announcing === a) announcedAt = performance.now()
        return n
      }))
      a.then(
        () => announced(done),
        (err: unknown) => {
          // Redis refused: the subscription fails as mqemitter-redis' own SUBSCRIBE would.
          if (announcing === a) announcing = undefined
          done?.(err instanceof Error ? err : new Error(String(err)))
        },
      )
      return
    }
    const wait = announcedAt + ANNOUNCE_MS - performance.now()
    if (wait <= 0) done?.()
    else setTimeout(() => done?.(), wait)
  }

  const on = mq.on.bind(mq)
  mq.on = (topic, cb, done) => {
    if (!TELEMETRY_FILTER.test(topic)) return on(topic, cb, done)
    local++
    quietSince = undefined
    return on(topic, cb, (err) => (err ? done?.(err) : announced(done)))
  }
  const removeListener = mq.removeListener.bind(mq)
  mq.removeListener = (topic, cb, done) => {
    if (TELEMETRY_FILTER.test(topic) && local > 0 && --local === 0) lastWatched = performance.now()
    return removeListener(topic, cb, done)
  }
  const emit = mq.emit.bind(mq)
  mq.emit = (msg, done) => {
    const skip = TELEMETRY_TOPIC.test(msg.topic) ? quiet() && unwatched : deliverableToNone(msg.topic) && undeliverable
    if (skip) {
      skip.inc()
      done?.()
      return mq
    }
    return emit(msg, done)
  }
  return { quiet, close: () => clearInterval(timer) }
}
