import type pg from 'pg'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'

// Following a table other nodes change (docs/operations.md "Rules across nodes", "Contacts across
// nodes"): a writer NOTIFYs `channel` in its transaction; each node LISTENs on a connection of its
// own and re-reads when notified, once after every (re)LISTEN (what changed while it was not
// listening), and every `everyMs` as the safety net under LISTEN: a lost LISTEN connection misses
// notifications until the next tick listens again on a fresh one.

export interface Follower {
  close(): Promise<void>
}

export interface FollowOptions {
  /** Re-reads now (called, never awaited, on every occasion above; a failure is logged and counted). */
  reread: () => Promise<unknown>
  everyMs: number
  log: Logger
  /** What is followed, for the log lines of a failed re-read or LISTEN. */
  what: string
  metrics: Metrics
  /** The counter of failed re-reads (docs/operations.md metrics): the next occasion retries. */
  failures: { name: string; help: string }
}

export function followChannel(pool: pg.Pool, channel: string, o: FollowOptions): Follower {
  const failures = o.metrics.counter(o.failures.name, o.failures.help)
  const reread = (): void => {
    o.reread().catch((err: unknown) => {
      failures.inc()
      o.log.warn({ err }, `${o.what} not re-read`)
    })
  }
  let listener: { client: pg.PoolClient; drop: () => void } | undefined
  let closed = false
  // One LISTEN connection at a time: a tick while the previous one is still connecting waits for it.
  let connecting: Promise<void> | undefined
  const listen = (): Promise<void> => {
    if (listener || closed) return Promise.resolve()
    connecting ??= connect().finally(() => (connecting = undefined))
    return connecting
  }
  const connect = async (): Promise<void> => {
    const c = await pool.connect()
    let released = false
    const drop = () => {
      if (listener?.client === c) listener = undefined
      if (!released) c.release(true)
      released = true
    }
    c.on('notification', (n) => {
      if (n.channel === channel) reread()
    })
    c.on('error', drop)
    try {
      await c.query(`LISTEN ${channel}`)
    } catch (err) {
      drop()
      throw err
    }
    if (closed) return drop()
    listener = { client: c, drop }
    reread()
  }
  const tick = () => {
    reread()
    listen().catch((err: unknown) => o.log.warn({ err }, `${o.what}: LISTEN failed; re-read periodically meanwhile`))
  }
  tick()
  const timer = setInterval(tick, o.everyMs)
  timer.unref()
  return {
    async close() {
      closed = true
      clearInterval(timer)
      await connecting?.catch(() => undefined)
      // The session ends with the client: its LISTEN goes with it.
      listener?.drop()
    },
  }
}
