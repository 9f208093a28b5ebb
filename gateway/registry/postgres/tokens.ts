import { randomBytes } from 'node:crypto'
import type pg from 'pg'
import { decodeCursor, pageOf } from '../cursor.ts'
import { newToken, type SecretHasher } from '../secrets.ts'
import { RegistryError, type Actor, type ApiToken, type Page, type Role } from '../types.ts'
import { inTx, type Db, type PgAudit } from './db.ts'

// As ../tokens.ts: writing last_used_at on every API call would turn each read into a write.
const LAST_USED_PRECISION_MS = 60_000
const TOKEN_COLUMNS = 'id, name, role, created_at, last_used_at'
/**
 * While PostgreSQL cannot be reached, a token this node saw valid this recently still
 * authenticates, so that monitoring (/metrics) and reads served from elsewhere keep working
 * through an outage. No token can be deleted meanwhile (that needs PostgreSQL), and a deletion
 * seen by notification drops it at once.
 */
export const TOKEN_OUTAGE_GRACE_MS = 15 * 60_000

/** API tokens in PostgreSQL; only the keyed hash of a token is stored. */
export class PgTokens {
  private readonly tokenUse = new Map<string, number>()
  /** Keyed hash (hex) → the token and when PostgreSQL last confirmed it; only valid tokens enter. */
  private readonly confirmed = new Map<string, { token: ApiToken; at: number }>()

  constructor(
    private readonly pool: pg.Pool,
    private readonly hasher: SecretHasher,
    private readonly audit: PgAudit,
    private readonly revoke: (db: Db, tokenId: string) => Promise<void>,
  ) {}

  async createToken(input: { role: Role; name: string }, actor: Actor): Promise<{ token: ApiToken; secret: string }> {
    const id = `tok-${randomBytes(6).toString('hex')}`
    const secret = newToken()
    const now = new Date().toISOString()
    await inTx(this.pool, async (db) => {
      await db.query('INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)', [
        id,
        input.name,
        input.role,
        this.hasher.hash(secret),
        now,
      ])
      await this.audit(db, actor, 'token.create', id, { role: input.role, name: input.name })
    })
    return { token: { id, name: input.name, role: input.role, created_at: now, last_used_at: null }, secret }
  }

  async listTokens(page: { limit: number; cursor?: string | undefined }): Promise<Page<ApiToken>> {
    const after = decodeCursor(page.cursor)
    const { rows } = await this.pool.query<ApiToken>(
      `SELECT ${TOKEN_COLUMNS} FROM api_tokens ${after !== undefined ? 'WHERE id > $2' : ''} ORDER BY id LIMIT $1`,
      after !== undefined ? [page.limit + 1, after] : [page.limit + 1],
    )
    return pageOf(rows, page.limit, (t) => t.id)
  }

  async deleteToken(id: string, actor: Actor): Promise<void> {
    await inTx(this.pool, async (db) => {
      const r = await db.query('DELETE FROM api_tokens WHERE id = $1', [id])
      if (r.rowCount === 0) throw new RegistryError('not_found', `token "${id}" does not exist`)
      await this.audit(db, actor, 'token.delete', id, null)
      await this.revoke(db, id)
    })
  }

  async authenticateToken(secret: string): Promise<ApiToken | undefined> {
    const hash = this.hasher.hash(secret)
    const key = hash.toString('hex')
    let rows: ApiToken[]
    try {
      rows = (await this.pool.query<ApiToken>(`SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1`, [hash])).rows
    } catch (err) {
      const known = this.confirmed.get(key)
      if (known && Date.now() - known.at < TOKEN_OUTAGE_GRACE_MS) return known.token
      throw err
    }
    const row = rows[0]
    if (!row) {
      this.confirmed.delete(key)
      return undefined
    }
    const now = Date.now()
    this.confirmed.set(key, { token: row, at: now })
    if (now - (this.tokenUse.get(row.id) ?? 0) > LAST_USED_PRECISION_MS) {
      this.tokenUse.set(row.id, now)
      const iso = new Date(now).toISOString()
      await this.pool.query('UPDATE api_tokens SET last_used_at = $1 WHERE id = $2', [iso, row.id])
      row.last_used_at = iso
    }
    return row
  }

  /** A deleted token (here or on another node) no longer authenticates from memory either. */
  forget(tokenId: string): void {
    for (const [key, c] of this.confirmed) if (c.token.id === tokenId) this.confirmed.delete(key)
  }

  async hasAdminToken(): Promise<boolean> {
    return (await this.pool.query("SELECT 1 FROM api_tokens WHERE role = 'admin' LIMIT 1")).rowCount! > 0
  }

  async ensureToken(input: { role: Role; name: string; secret: string }, actor: Actor): Promise<ApiToken> {
    const hash = this.hasher.hash(input.secret)
    const id = `tok-${randomBytes(6).toString('hex')}`
    const now = new Date().toISOString()
    // Every node starts with the same IOC_ADMIN_TOKEN: the unique hash makes one of them store it.
    return inTx(this.pool, async (db) => {
      const ins = await db.query<ApiToken>(
        `INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (token_hash) DO NOTHING RETURNING ${TOKEN_COLUMNS}`,
        [id, input.name, input.role, hash, now],
      )
      if (ins.rows[0]) {
        await this.audit(db, actor, 'token.create', id, { role: input.role, name: input.name, bootstrap: true })
        return ins.rows[0]
      }
      return (await db.query<ApiToken>(`SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1`, [hash])).rows[0]!
    })
  }
}
