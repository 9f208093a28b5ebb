import { randomBytes } from 'node:crypto'
import { decodeCursor, pageOf } from './cursor.ts'
import { newToken } from './secrets.ts'
import { RegistryError, type Actor, type ApiToken, type Page, type Role } from './types.ts'
import { SqlitePart, type SqliteShared } from './sqlite-part.ts'

interface TokenRow {
  id: string
  name: string
  role: Role
  created_at: string
  last_used_at: string | null
}

// Writing last_used_at on every API call would turn each read into a write; a minute is precise enough.
const LAST_USED_PRECISION_MS = 60_000

/** API tokens for machines; only the keyed hash of a token is stored. */
export class SqliteTokens extends SqlitePart {
  private readonly tokenUse = new Map<string, number>()

  constructor(
    shared: SqliteShared,
    private readonly onDeleted: (id: string) => void,
  ) {
    super(shared)
  }

  createToken(input: { role: Role; name: string }, actor: Actor): { token: ApiToken; secret: string } {
    const secret = newToken()
    return { token: this.insertToken(input, this.hasher.hash(secret), actor, {}), secret }
  }

  /** A new token row with its audit entry, in one transaction (`extra`: more of the audit's detail). */
  private insertToken(input: { role: Role; name: string }, hash: Buffer, actor: Actor, extra: Record<string, unknown>): ApiToken {
    const id = `tok-${randomBytes(6).toString('hex')}`
    const now = new Date().toISOString()
    this.db.transaction(() => {
      this.sql('INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?)').run(
        id,
        input.name,
        input.role,
        hash,
        now,
      )
      this.record(actor, 'token.create', id, { role: input.role, name: input.name, ...extra })
    })()
    return { id, name: input.name, role: input.role, created_at: now, last_used_at: null }
  }

  listTokens(page: { limit: number; cursor?: string | undefined }): Page<ApiToken> {
    const after = decodeCursor(page.cursor)
    const rows = this.sql(
      `SELECT id, name, role, created_at, last_used_at FROM api_tokens ${after !== undefined ? 'WHERE id > ?' : ''} ORDER BY id LIMIT ?`,
    ).all(...(after !== undefined ? [after] : []), page.limit + 1) as TokenRow[]
    return pageOf(rows, page.limit, (t) => t.id)
  }

  deleteToken(id: string, actor: Actor): void {
    const res = this.db.transaction(() => {
      const r = this.sql('DELETE FROM api_tokens WHERE id = ?').run(id)
      if (r.changes > 0) this.record(actor, 'token.delete', id, null)
      return r
    })()
    if (res.changes === 0) throw new RegistryError('not_found', `token "${id}" does not exist`)
    this.onDeleted(id)
  }

  authenticateToken(secret: string): ApiToken | undefined {
    // The hash is the lookup key; the index compares whole digests, so no timing leaks a prefix.
    const row = this.sql('SELECT id, name, role, created_at, last_used_at FROM api_tokens WHERE token_hash = ?').get(
      this.hasher.hash(secret),
    ) as TokenRow | undefined
    if (!row) return undefined
    const now = Date.now()
    if (now - (this.tokenUse.get(row.id) ?? 0) > LAST_USED_PRECISION_MS) {
      this.tokenUse.set(row.id, now)
      const iso = new Date(now).toISOString()
      this.sql('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(iso, row.id)
      row.last_used_at = iso
    }
    return row
  }

  hasAdminToken(): boolean {
    return this.sql("SELECT 1 FROM api_tokens WHERE role = 'admin' LIMIT 1").get() !== undefined
  }

  ensureToken(input: { role: Role; name: string; secret: string }, actor: Actor): ApiToken {
    const hash = this.hasher.hash(input.secret)
    const existing = this.sql('SELECT id, name, role, created_at, last_used_at FROM api_tokens WHERE token_hash = ?').get(hash) as
      TokenRow | undefined
    if (existing) return existing
    return this.insertToken(input, hash, actor, { bootstrap: true })
  }
}
