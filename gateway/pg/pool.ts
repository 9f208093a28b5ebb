import pg from 'pg'
import type { Logger } from '../log/logger.ts'

export interface PgPoolOptions {
  logger: Logger
  /** Shown in pg_stat_activity, so an operator can tell which node holds which session. */
  applicationName?: string
  /** Most connections this pool opens (pg's default is 10). */
  max?: number
}

/**
 * A connection pool to PostgreSQL (cluster mode, docs/operations.md "Several nodes").
 * The URL carries the password when there is one: it is never logged.
 */
export function openPgPool(url: string, opts: PgPoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    application_name: opts.applicationName ?? 'iocgw',
    max: opts.max ?? 10,
    // A node must learn within seconds that PostgreSQL is unreachable (readiness, lease loss)
    // rather than wait on the operating system's connect timeout, which can be minutes.
    connectionTimeoutMillis: 5_000,
    // A statement stuck behind a lock or a stalled server would otherwise hold a pooled client
    // forever; the server ends it and the caller gets an error it can act on. Long work
    // (migrations) lifts it per transaction with SET LOCAL.
    statement_timeout: 15_000,
    // The same bound on the client side, for when the server cannot even answer (a dead peer
    // whose TCP connection has not been reset yet).
    query_timeout: 20_000,
    // Lets the kernel notice a half-open connection (PostgreSQL host gone) on idle clients.
    keepAlive: true,
    idleTimeoutMillis: 30_000,
  })
  // An idle client whose server goes away emits 'error' on the pool; without a listener Node
  // treats it as unhandled and the whole gateway process exits. The client is discarded by pg and
  // the next query opens a new one, so logging is all there is to do.
  pool.on('error', (err) => {
    opts.logger.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'postgres: idle client error')
  })
  // pg-pool listens for 'error' on idle clients only. A client checked out (pool.connect(): a
  // transaction, a fenced write) whose server goes away while none of its queries runs (every
  // backend ends when PostgreSQL is killed) emits 'error' with no listener, which stops the whole
  // process. Its holder learns it anyway, as its next query fails and the client is released
  // broken; the pool's listener above logs the idle ones.
  pool.on('connect', (client) => {
    client.on('error', (err) => {
      opts.logger.debug({ err: { message: err.message, code: (err as { code?: string }).code } }, 'postgres: client connection lost')
    })
  })
  return pool
}
