import { randomBytes } from 'node:crypto'
import { decodeCursor, pageOf } from './cursor.ts'
import { dummyPasswordHash, hashPassword, passwordProblem, verifyPassword } from './passwords.ts'
import { RegistryError, type Actor, type Page, type Role } from './types.ts'
import { SqlitePart, type SqliteShared } from './sqlite-part.ts'

// User accounts for people (the console); API tokens stay for machines. A user has a role like a
// token and may be scoped to districts and/or stations. Sessions live in the same database so that
// logout, a password change and disabling revoke them server-side at once.

/** `lan.nguyen`, `admin`, `op-1`: lower case, so that a login cannot differ from the name by case. */
export const USER_NAME_PATTERN = '^[a-z0-9][a-z0-9._@-]{1,63}$'
const NAME_RE = new RegExp(USER_NAME_PATTERN)

export interface UserAccount {
  id: string
  name: string
  role: Role
  /** Empty with `stations` empty: every place. Otherwise only these districts' and stations' data. */
  districts: string[]
  stations: string[]
  disabled: boolean
  created_at: string
  updated_at: string
  last_login_at: string | null
}

export interface NewUser {
  name: string
  role: Role
  password: string
  districts?: string[] | undefined
  stations?: string[] | undefined
}

export type UserPatch = Partial<Pick<UserAccount, 'role' | 'districts' | 'stations' | 'disabled'>>

export interface StoredSession {
  user: UserAccount
  csrfToken: string
  createdMs: number
  lastSeenMs: number
}

export interface UserRegistry {
  createUser(input: NewUser, actor: Actor): Promise<UserAccount>
  getUser(name: string): Promise<UserAccount | undefined>
  listUsers(page: { limit: number; cursor?: string | undefined }): Promise<Page<UserAccount>>
  /** A change of role, scope or `disabled` ends the user's sessions (they were granted under the old terms). */
  updateUser(name: string, patch: UserPatch, actor: Actor): Promise<UserAccount>
  /** Sets a new password and ends every session of the user except `keepSession` (an id). */
  setPassword(name: string, password: string, actor: Actor, keepSession?: string): Promise<UserAccount>
  /**
   * The user whose password this is, or undefined: unknown name, wrong password and disabled user
   * all cost one scrypt check and answer the same.
   */
  checkPassword(name: string, password: string): Promise<UserAccount | undefined>
  hasUsers(): Promise<boolean>

  createSession(userId: string, nowMs: number): Promise<{ id: string; csrfToken: string }>
  findSession(id: string): Promise<StoredSession | undefined>
  touchSession(id: string, nowMs: number): Promise<void>
  deleteSession(id: string): Promise<void>
  /** Ends every session of a user, except `exceptId`; answers how many ended. */
  deleteUserSessions(userId: string, exceptId?: string): Promise<number>
  /** Removes sessions last seen before `seenBeforeMs` or made before `createdBeforeMs` (they can no longer be used). */
  deleteExpiredSessions(seenBeforeMs: number, createdBeforeMs: number): Promise<number>
  audit(actor: Actor, action: string, target: string, detail: Record<string, unknown> | null): Promise<void>
}

/** A users row as both stores read it: JSON text and 0/1 in SQLite, JSONB arrays and a boolean in PostgreSQL. */
export interface UserRow {
  id: string
  name: string
  role: Role
  districts: string | string[]
  stations: string | string[]
  password_hash: string
  disabled: number | boolean
  created_at: string
  updated_at: string
  last_login_at: string | null
}

const list = (v: string | string[]): string[] => (typeof v === 'string' ? (JSON.parse(v) as string[]) : v)

export function toUser(r: UserRow): UserAccount {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    districts: list(r.districts),
    stations: list(r.stations),
    disabled: r.disabled === 1 || r.disabled === true,
    created_at: r.created_at,
    updated_at: r.updated_at,
    last_login_at: r.last_login_at,
  }
}

export const uniq = (xs: string[] | undefined) => [...new Set(xs ?? [])]

/** Throws what is wrong with a new user's name or password; both stores check before the (slow) hash. */
export function checkNewUser(input: NewUser): void {
  if (!NAME_RE.test(input.name)) throw new RegistryError('invalid', `user name "${input.name}" must match ${USER_NAME_PATTERN}`)
  const problem = passwordProblem(input.password)
  if (problem) throw new RegistryError('invalid', problem)
}

export class SqliteUsers extends SqlitePart implements UserRegistry {
  constructor(shared: SqliteShared) {
    super(shared)
    // Made now, not at the first unknown name: that login would otherwise take two hashes' time.
    dummyPasswordHash().catch(() => undefined)
  }

  async createUser(input: NewUser, actor: Actor): Promise<UserAccount> {
    checkNewUser(input)
    if (this.findUser(input.name)) throw new RegistryError('conflict', `user "${input.name}" already exists`)
    const hash = await hashPassword(input.password)
    const id = `usr-${randomBytes(6).toString('hex')}`
    const now = new Date().toISOString()
    const districts = uniq(input.districts)
    const stations = uniq(input.stations)
    this.db.transaction(() => {
      // Checked again inside the transaction: the hash above took time.
      if (this.findUser(input.name)) throw new RegistryError('conflict', `user "${input.name}" already exists`)
      this.sql(
        `INSERT INTO users (id, name, role, districts, stations, password_hash, disabled, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)`,
      ).run(id, input.name, input.role, JSON.stringify(districts), JSON.stringify(stations), hash, now, now)
      this.record(actor, 'user.create', input.name, { role: input.role, districts, stations })
    })()
    return this.requireUser(input.name)
  }

  async getUser(name: string): Promise<UserAccount | undefined> {
    return this.findUser(name)
  }

  async audit(actor: Actor, action: string, target: string, detail: Record<string, unknown> | null): Promise<void> {
    this.record(actor, action, target, detail)
  }

  private findUser(name: string): UserAccount | undefined {
    const row = this.sql('SELECT * FROM users WHERE name = ?').get(name) as UserRow | undefined
    return row ? toUser(row) : undefined
  }

  async listUsers(page: { limit: number; cursor?: string | undefined }): Promise<Page<UserAccount>> {
    const after = decodeCursor(page.cursor)
    const rows = this.sql(`SELECT * FROM users ${after !== undefined ? 'WHERE name > ?' : ''} ORDER BY name LIMIT ?`).all(
      ...(after !== undefined ? [after] : []),
      page.limit + 1,
    ) as UserRow[]
    return pageOf(rows.map(toUser), page.limit, (u) => u.name)
  }

  async updateUser(name: string, patch: UserPatch, actor: Actor): Promise<UserAccount> {
    const before = this.requireUser(name)
    const next = {
      ...before,
      ...patch,
      districts: patch.districts ? uniq(patch.districts) : before.districts,
      stations: patch.stations ? uniq(patch.stations) : before.stations,
      updated_at: new Date().toISOString(),
    }
    this.db.transaction(() => {
      this.sql('UPDATE users SET role = ?, districts = ?, stations = ?, disabled = ?, updated_at = ? WHERE id = ?').run(
        next.role,
        JSON.stringify(next.districts),
        JSON.stringify(next.stations),
        next.disabled ? 1 : 0,
        next.updated_at,
        before.id,
      )
      const ended = this.endSessions(before.id)
      this.record(actor, next.disabled && !before.disabled ? 'user.disable' : 'user.update', name, { ...patch, sessions_ended: ended })
    })()
    return this.requireUser(name)
  }

  async setPassword(name: string, password: string, actor: Actor, keepSession?: string): Promise<UserAccount> {
    const user = this.requireUser(name)
    const problem = passwordProblem(password)
    if (problem) throw new RegistryError('invalid', problem)
    const hash = await hashPassword(password)
    this.db.transaction(() => {
      this.sql('UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?').run(hash, new Date().toISOString(), user.id)
      const ended = this.endSessions(user.id, keepSession)
      this.record(actor, 'user.password', name, { sessions_ended: ended })
    })()
    return this.requireUser(name)
  }

  async checkPassword(name: string, password: string): Promise<UserAccount | undefined> {
    const row = this.sql('SELECT * FROM users WHERE name = ?').get(name) as UserRow | undefined
    const ok = await verifyPassword(password, row ? row.password_hash : await dummyPasswordHash())
    if (!row || !ok || toUser(row).disabled) return undefined
    const now = new Date().toISOString()
    this.sql('UPDATE users SET last_login_at = ? WHERE id = ?').run(now, row.id)
    return toUser({ ...row, last_login_at: now })
  }

  async hasUsers(): Promise<boolean> {
    return this.sql('SELECT 1 FROM users LIMIT 1').get() !== undefined
  }

  async createSession(userId: string, nowMs: number): Promise<{ id: string; csrfToken: string }> {
    const id = randomBytes(32).toString('base64url')
    const csrfToken = randomBytes(24).toString('base64url')
    this.sql('INSERT INTO user_sessions (id_hash, user_id, csrf_token, created_ms, last_seen_ms) VALUES (?, ?, ?, ?, ?)').run(
      this.hasher.hash(id),
      userId,
      csrfToken,
      nowMs,
      nowMs,
    )
    return { id, csrfToken }
  }

  async findSession(id: string): Promise<StoredSession | undefined> {
    // Looked up by the keyed hash: a stolen database holds no usable session id.
    const row = this.sql(
      `SELECT u.*, s.csrf_token, s.created_ms, s.last_seen_ms FROM user_sessions s JOIN users u ON u.id = s.user_id
                          WHERE s.id_hash = ?`,
    ).get(this.hasher.hash(id)) as (UserRow & { csrf_token: string; created_ms: number; last_seen_ms: number }) | undefined
    if (!row) return undefined
    return { user: toUser(row), csrfToken: row.csrf_token, createdMs: row.created_ms, lastSeenMs: row.last_seen_ms }
  }

  async touchSession(id: string, nowMs: number): Promise<void> {
    this.sql('UPDATE user_sessions SET last_seen_ms = ? WHERE id_hash = ?').run(nowMs, this.hasher.hash(id))
  }

  async deleteSession(id: string): Promise<void> {
    this.sql('DELETE FROM user_sessions WHERE id_hash = ?').run(this.hasher.hash(id))
  }

  async deleteUserSessions(userId: string, exceptId?: string): Promise<number> {
    return this.endSessions(userId, exceptId)
  }

  private endSessions(userId: string, exceptId?: string): number {
    if (exceptId === undefined) return this.sql('DELETE FROM user_sessions WHERE user_id = ?').run(userId).changes
    return this.sql('DELETE FROM user_sessions WHERE user_id = ? AND id_hash != ?').run(userId, this.hasher.hash(exceptId)).changes
  }

  async deleteExpiredSessions(seenBeforeMs: number, createdBeforeMs: number): Promise<number> {
    return this.sql('DELETE FROM user_sessions WHERE last_seen_ms < ? OR created_ms < ?').run(seenBeforeMs, createdBeforeMs).changes
  }

  private requireUser(name: string): UserAccount {
    const u = this.findUser(name)
    if (!u) throw new RegistryError('not_found', `user "${name}" does not exist (GET /api/v1/users lists them)`)
    return u
  }
}
