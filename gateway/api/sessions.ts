import { timingSafeEqual } from 'node:crypto'
import type { UserAccount, UserRegistry } from '../registry/users.ts'

export interface SessionConfig {
  /** A session unused this long ends (answers 401). */
  idleMinutes: number
  /** A session ends this long after login, used or not. */
  maxHours: number
}

export interface ActiveSession {
  id: string
  user: UserAccount
  csrfToken: string
}

export interface SessionManager {
  open(user: UserAccount): Promise<ActiveSession>
  /** The live session for a cookie value, or undefined (unknown, ended, idle, too old, user disabled). */
  resolve(id: string): Promise<ActiveSession | undefined>
  close(id: string): Promise<void>
}

// last_seen is written at most this often: each API call of an open console would otherwise be a
// database write. Small against any idle timeout (at least a minute).
const TOUCH_EVERY_MS = 10_000

export function sessionManager(users: UserRegistry, config: SessionConfig, now: () => number = Date.now): SessionManager {
  const idleMs = config.idleMinutes * 60_000
  const maxMs = config.maxHours * 3_600_000
  return {
    async open(user) {
      const t = now()
      // Sessions never presented again would stay in the table: each login sweeps the expired ones.
      await users.deleteExpiredSessions(t - idleMs, t - maxMs)
      const { id, csrfToken } = await users.createSession(user.id, t)
      return { id, user, csrfToken }
    },
    async resolve(id) {
      const s = await users.findSession(id)
      if (!s) return undefined
      const t = now()
      if (s.user.disabled || t - s.lastSeenMs > idleMs || t - s.createdMs > maxMs) {
        await users.deleteSession(id)
        return undefined
      }
      if (t - s.lastSeenMs >= TOUCH_EVERY_MS) await users.touchSession(id, t)
      return { id, user: s.user, csrfToken: s.csrfToken }
    },
    async close(id) {
      await users.deleteSession(id)
    },
  }
}

/** Constant-time comparison of the X-CSRF-Token header against the session's token. */
export function csrfMatches(header: string | string[] | undefined, expected: string): boolean {
  if (typeof header !== 'string') return false
  const a = Buffer.from(header, 'utf8')
  const b = Buffer.from(expected, 'utf8')
  return a.length === b.length && timingSafeEqual(a, b)
}
