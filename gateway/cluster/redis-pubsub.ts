import { createRequire } from 'node:module'
import type { Redis } from 'ioredis'
import { CountedLog } from '../log/counted-log.ts'
import type { Logger } from '../log/logger.ts'

// ioredis is required when a node in cluster mode first connects, so that a single gateway does
// not load it (docs/operations.md, Memory).
const require = createRequire(import.meta.url)

export interface PubSubConnection {
  url: string
  nodeId: string
  /** Names the connection in Redis' CLIENT LIST and in the log (e.g. `frames-pub`). */
  role: string
  /**
   * `publish`: a publish during an outage fails at once (the caller holds or drops what it sends)
   * instead of queueing it in memory. `subscribe`: no ready check, since the owner may subscribe
   * while the connection is still being made, and the check's INFO would then be sent in
   * subscriber mode and refused (ioredis issue #2037).
   */
  use: 'publish' | 'subscribe'
  /** The component the log line names (`vision`, `alerts`). */
  component: string
  logger: Logger
  /** True once the owner is closing: errors are then expected and not logged. */
  closing: () => boolean
}

/** A Redis connection for one side of a pub/sub channel between nodes. */
export function connectPubSub(o: PubSubConnection): Redis {
  const { Redis: RedisClient } = require('ioredis') as { Redis: typeof Redis }
  const redis = new RedisClient(o.url, {
    connectionName: `iocgw:${o.nodeId}:${o.role}`,
    // As the broker's connections (gateway/broker/cluster.ts): an outage is waited out, never a crash.
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    enableOfflineQueue: o.use !== 'publish',
    enableReadyCheck: o.use !== 'subscribe',
    // Publishes made in one turn of the event loop (a batch of readings forwarded to their
    // partitions' owners) leave in one socket write rather than one each.
    enableAutoPipelining: o.use === 'publish',
  })
  const errors = new CountedLog(60_000)
  redis.on('error', (err: Error) => {
    if (o.closing() || errors.note() === undefined) return
    // The URL may hold a password: never logged.
    o.logger.error(
      { event: 'redis_error', role: o.role, err: err.message },
      `${o.component}: Redis unreachable or failing (logged once a minute per connection)`,
    )
  })
  return redis
}
