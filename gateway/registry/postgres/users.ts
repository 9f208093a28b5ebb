import { randomBytes } from 'node:crypto'
import type pg from 'pg'
import { decodeCursor, pageOf } from '../cursor.ts'
import { dummyPasswordHash, hashPassword, passwordProblem, verifyPassword } from '../passwords.ts'
import type { SecretHasher } from '../secrets.ts'
import { RegistryError, type Actor, type Page } from '../types.ts'
import {
  checkNewUser,
  toUser,
  uniq,
  type NewUser,
  type UserRow,
  type StoredSession,
  type UserAccount,
  type UserPatch,
  type UserRegistry,
} from '../users.ts'
import { inTx, type Db, type PgAudit } from './db.ts'
import { recordAudit } from './audit.ts'

const notFound = (name: string) => new RegistryError('not_found', `user "${name}" does not exist (GET /api/v1/users lists them)`)

/** User accounts and console sessions in PostgreSQL, with the semantics of ../users.ts. */
export class PgUsers implements UserRegistry {
  constructor(
    private readonly pool: pg.Pool,
    private readonly hasher: SecretHasher,
    private readonly record: PgAudit,
  ) {
    dummyPasswordHash().catch(() => undefined)
  }

  async createUser(input: NewUser, actor: Actor): Promise<UserAccount> {
    checkNewUser(input)
    if (await this.getUser(input.name)) throw new RegistryError('conflict', `user "${input.name}" already exists`)
    const hash = await hashPassword(input.password)
    const id = `usr-${randomBytes(6).toString('hex')}`
    const now = new Date().toISOString()
    const districts = uniq(input.districts)
    const stations = uniq(input.stations)
    await inTx(this.pool, async (db) => {
      // The unique name decides between two nodes creating the same user (the hash above took time).
      const r = await db.query(
        `INSERT INTO users (id, name, role, districts, stations, password_hash, disabled, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7, $7) ON CONFLICT (name) DO NOTHING`,
        [id, input.name, input.role, JSON.stringify(districts), JSON.stringify(stations), hash, now],
      )
      if (r.rowCount === 0) throw new RegistryError('conflict', `user "${input.name}" already exists`)
      await this.record(db, actor, 'user.create', input.name, { role: input.role, districts, stations })
    })
    return this.requireUser(input.name)
  }

  async getUser(name: string, db: Db = this.pool): Promise<UserAccount | undefined> {
    const { rows } = await db.query<UserRow>('SELECT * FROM users WHERE name = $1', [name])
    return rows[0] ? toUser(rows[0]) : undefined
  }

  async listUsers(page: { limit: number; cursor?: string | undefined }): Promise<Page<UserAccount>> {
    const after = decodeCursor(page.cursor)
    const { rows } = await this.pool.query<UserRow>(
      `SELECT * FROM users ${after !== undefined ? 'WHERE name > $2' : ''} ORDER BY name LIMIT $1`,
      after !== undefined ? [page.limit + 1, after] : [page.limit + 1],
    )
    return pageOf(rows.map(toUser), page.limit, (u) => u.name)
  }

  async updateUser(name: string, patch: UserPatch, actor: Actor): Promise<UserAccount> {
    await inTx(this.pool, async (db) => {
      const { rows } = await db.query<UserRow>('SELECT * FROM users WHERE name = $1 FOR UPDATE', [name])
      if (!rows[0]) throw notFound(name)
      const before = toUser(rows[0])
      const next = {
        ...before,
        ...patch,
        districts: patch.districts ? uniq(patch.districts) : before.districts,
        stations: patch.stations ? uniq(patch.stations) : before.stations,
      }
      await db.query('UPDATE users SET role = $1, districts = $2, stations = $3, disabled = $4, updated_at = $5 WHERE id = $6', [
        next.role,
        JSON.stringify(next.districts),
        JSON.stringify(next.stations),
        next.disabled,
        new Date().toISOString(),
        before.id,
      ])
      const ended = await this.endSessions(db, before.id)
      await this.record(db, actor, next.disabled && !before.disabled ? 'user.disable' : 'user.update', name, {
        ...patch,
        sessions_ended: ended,
      })
    })
    return this.requireUser(name)
  }

  async setPassword(name: string, password: string, actor: Actor, keepSession?: string): Promise<UserAccount> {
    const user = await this.requireUser(name)
    const problem = passwordProblem(password)
    if (problem) throw new RegistryError('invalid', problem)
    const hash = await hashPassword(password)
    await inTx(this.pool, async (db) => {
      await db.query('UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3', [hash, new Date().toISOString(), user.id])
      const ended = await this.endSessions(db, user.id, keepSession)
      await this.record(db, actor, 'user.password', name, { sessions_ended: ended })
    })
    return this.requireUser(name)
  }

  async checkPassword(name: string, password: string): Promise<UserAccount | undefined> {
    const { rows } = await this.pool.query<UserRow>('SELECT * FROM users WHERE name = $1', [name])
    const row = rows[0]
    const ok = await verifyPassword(password, row ? row.password_hash : await dummyPasswordHash())
    if (!row || !ok || toUser(row).disabled) return undefined
    const now = new Date().toISOString()
    await this.pool.query('UPDATE users SET last_login_at = $1 WHERE id = $2', [now, row.id])
    return toUser({ ...row, last_login_at: now })
  }

  async hasUsers(): Promise<boolean> {
    return (await this.pool.query('SELECT 1 FROM users LIMIT 1')).rowCount! > 0
  }

  async createSession(userId: string, nowMs: number): Promise<{ id: string; csrfToken: string }> {
    const id = randomBytes(32).toString('base64url')
    const csrfToken = randomBytes(24).toString('base64url')
    await this.pool.query(
      'INSERT INTO user_sessions (id_hash, user_id, csrf_token, created_ms, last_seen_ms) VALUES ($1, $2, $3, $4, $4)',
      [this.hasher.hash(id), userId, csrfToken, nowMs],
    )
    return { id, csrfToken }
  }

  async findSession(id: string): Promise<StoredSession | undefined> {
    // Looked up by the keyed hash: a stolen database holds no usable session id.
    const { rows } = await this.pool.query<UserRow & { csrf_token: string; created_ms: string; last_seen_ms: string }>(
      `SELECT u.*, s.csrf_token, s.created_ms, s.last_seen_ms FROM user_sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1`,
      [this.hasher.hash(id)],
    )
    const row = rows[0]
    if (!row) return undefined
    return { user: toUser(row), csrfToken: row.csrf_token, createdMs: Number(row.created_ms), lastSeenMs: Number(row.last_seen_ms) }
  }

  async touchSession(id: string, nowMs: number): Promise<void> {
    await this.pool.query('UPDATE user_sessions SET last_seen_ms = $1 WHERE id_hash = $2', [nowMs, this.hasher.hash(id)])
  }

  async deleteSession(id: string): Promise<void> {
    await this.pool.query('DELETE FROM user_sessions WHERE id_hash = $1', [this.hasher.hash(id)])
  }

  async deleteUserSessions(userId: string, exceptId?: string): Promise<number> {
    return this.endSessions(this.pool, userId, exceptId)
  }

  async deleteExpiredSessions(seenBeforeMs: number, createdBeforeMs: number): Promise<number> {
    return (
      (await this.pool.query('DELETE FROM user_sessions WHERE last_seen_ms < $1 OR created_ms < $2', [seenBeforeMs, createdBeforeMs]))
        .rowCount ?? 0
    )
  }

  async audit(actor: Actor, action: string, target: string, detail: Record<string, unknown> | null): Promise<void> {
    await recordAudit(this.pool, actor, action, target, detail)
  }

  private async endSessions(db: Db, userId: string, exceptId?: string): Promise<number> {
    const r =
      exceptId === undefined
        ? await db.query('DELETE FROM user_sessions WHERE user_id = $1', [userId])
        : await db.query('DELETE FROM user_sessions WHERE user_id = $1 AND id_hash <> $2', [userId, this.hasher.hash(exceptId)])
    return r.rowCount ?? 0
  }

  private async requireUser(name: string): Promise<UserAccount> {
    const u = await this.getUser(name)
    if (!u) throw notFound(name)
    return u
  }
}
