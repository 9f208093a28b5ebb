import type { AuthFailureLimiter } from './auth.ts'

/**
 * Failed logins limited per client address and per user name: the address limit stops one
 * machine guessing many accounts, the name limit stops many machines guessing one account.
 */
export interface LoginLimiter {
  /** Seconds until this address may try this name again, 0 when it may try now. */
  blocked(addr: string, username: string): number
  fail(addr: string, username: string): void
}

/**
 * The address side is the failed-authentication limiter HTTP and MQTT share
 * (gateway/security/auth-failures.ts: bad bearer tokens and device secrets count towards the same
 * budget); console user names get a window of their own, apart from MQTT device ids.
 */
export function loginLimiter(byAddress: AuthFailureLimiter, byName: AuthFailureLimiter): LoginLimiter {
  const nameKey = (u: string) => `user:${u.toLowerCase()}`
  return {
    // The name's window is kept by a limiter of its own, keyed by the name in its address slot.
    blocked: (addr, username) => Math.max(byAddress.blocked(addr), byName.blocked(nameKey(username))),
    fail(addr, username) {
      byAddress.fail(addr)
      byName.fail(nameKey(username))
    },
  }
}
