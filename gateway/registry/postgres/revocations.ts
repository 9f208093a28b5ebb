import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type pg from 'pg'
import type { Logger } from '../../log/logger.ts'
import type { RevocationEvent } from '../types.ts'
import type { Db } from './db.ts'

// Revocations reach every node through PostgreSQL LISTEN/NOTIFY, one channel per kind of event:
// a NOTIFY sent inside the change's transaction is delivered to every listening session when (and
// only if) that transaction commits, so a node closes its live MQTT sessions of a device another
// node disabled, rotated or removed, or of a token it deleted. The node that made the change has
// already told its own listeners, and skips its own notifications (the `from` field).

export const DEVICE_REVOKED_CHANNEL = 'iocgw_registry_device_revoked'
export const TOKEN_REVOKED_CHANNEL = 'iocgw_registry_token_revoked'

const RECONNECT_MS = 1_000

interface Note {
  from: string
  device?: RevocationEvent
  token?: string
}

export class Revocations {
  readonly events = new EventEmitter<{ revoked: [RevocationEvent]; tokenRevoked: [string] }>()
  /** This registry instance: its own notifications come back to it and are skipped. */
  private readonly self = randomBytes(8).toString('hex')
  private client: pg.PoolClient | undefined
  private closed = false
  private retry: NodeJS.Timeout | undefined

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
  ) {}

  /** Starts listening; resolves once LISTEN is in place (so that no later change is missed). */
  async start(): Promise<void> {
    const client = await this.pool.connect()
    // Closed while a reconnect was connecting: a client kept here would hold the pool's end() forever.
    if (this.closed) return client.release(true)
    const drop = (err?: Error): void => {
      if (this.client !== client) return
      this.client = undefined
      client.removeAllListeners('notification')
      client.release(err ?? true)
      if (this.closed) return
      // Changes committed while no connection listens are not replayed; live sessions are still
      // re-checked by the broker every deviceRefreshMs (publish-steps.ts), so they end within that.
      this.log.warn({ event: 'registry_listen_lost', err: err?.message }, 'registry: revocation listener lost; reconnecting')
      this.reconnect()
    }
    this.client = client
    client.on('notification', (msg) => this.deliver(msg.channel, msg.payload))
    client.on('error', (err) => drop(err))
    client.on('end', () => drop(new Error('connection ended')))
    try {
      await client.query(`LISTEN ${DEVICE_REVOKED_CHANNEL}`)
      await client.query(`LISTEN ${TOKEN_REVOKED_CHANNEL}`)
    } catch (err) {
      drop(err as Error)
      throw err
    }
  }

  /** Tries again every RECONNECT_MS until listening again (PostgreSQL down for a while) or closed. */
  private reconnect(): void {
    clearTimeout(this.retry)
    this.retry = setTimeout(() => {
      if (this.closed || this.client) return
      this.start().catch(() => this.reconnect())
    }, RECONNECT_MS)
    this.retry.unref()
  }

  /** Inside the change's transaction: this node's listeners now, the others' on commit. */
  async deviceRevoked(db: Db, ev: RevocationEvent): Promise<void> {
    await db.query('SELECT pg_notify($1, $2)', [DEVICE_REVOKED_CHANNEL, JSON.stringify({ from: this.self, device: ev } satisfies Note)])
    this.afterCommit(db, () => this.events.emit('revoked', ev))
  }

  async tokenRevoked(db: Db, tokenId: string): Promise<void> {
    await db.query('SELECT pg_notify($1, $2)', [TOKEN_REVOKED_CHANNEL, JSON.stringify({ from: this.self, token: tokenId } satisfies Note)])
    this.afterCommit(db, () => this.events.emit('tokenRevoked', tokenId))
  }

  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.retry)
    const c = this.client
    this.client = undefined
    if (!c) return
    c.removeAllListeners('notification')
    // Not handed back to the pool: it carries this instance's listeners.
    c.release(true)
  }

  private afterCommit(db: Db, fn: () => void): void {
    // The transaction helper (db.ts inTx) runs these once COMMIT succeeded.
    const pending = (db as { afterCommit?: Array<() => void> }).afterCommit
    if (pending) pending.push(fn)
    else fn()
  }

  private deliver(channel: string, payload: string | undefined): void {
    let note: Note
    try {
      note = JSON.parse(payload ?? '') as Note
    } catch {
      this.log.warn({ event: 'registry_notify_bad', channel }, 'registry: unreadable revocation notification ignored')
      return
    }
    if (note.from === this.self) return
    if (channel === DEVICE_REVOKED_CHANNEL && note.device && typeof note.device.deviceId === 'string')
      this.events.emit('revoked', note.device)
    else if (channel === TOKEN_REVOKED_CHANNEL && typeof note.token === 'string') this.events.emit('tokenRevoked', note.token)
  }
}
