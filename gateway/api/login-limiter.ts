import type { AuthFailureLimiter } from './auth.ts'

/**
 * Failed logins limited per client address and per user name: the address limit stops one
 * machine guessing many accounts, the name limit stops many machines guessing one account.
 * A small interface so that a limiter shared with MQTT authentication can take its place.
 */
export interface LoginLimiter {
  /** Seconds until this address may try this name again, 0 when it may try now. */
  blocked(addr: string, username: string): number
  fail(addr: string, username: string): void
}

/**
 * The address side is the HTTP failed-authentication limiter (bad bearer tokens count towards the
 * same budget); the name side is a counter of its own.
 */
export function loginLimiter(byAddress: AuthFailureLimiter, byName: AuthFailureLimiter): LoginLimiter {
  const nameKey = (u: string) => `user:${u.toLowerCase()}`
  return {
    blocked: (addr, username) => Math.max(byAddress.retryAfter(addr), byName.retryAfter(nameKey(username))),
    fail(addr, username) {
      byAddress.fail(addr)
      byName.fail(nameKey(username))
    },
  }
}
