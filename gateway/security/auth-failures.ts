// Failed authentications, counted per client address and per user name in fixed one-minute
// windows, shared by every way in (HTTP bearer tokens, MQTT CONNECT, user logins): a client
// locked out of one is locked out of all, so spreading guesses across protocols gains nothing.
// Hand-written rather than @fastify/rate-limit because that plugin counts every request, and only
// failures may count here (a busy dashboard must not be throttled).

/**
 * Behind an interface so a shared store (several gateway nodes) can replace the in-memory one.
 * `address` is the client's IP address; `username` the name it claimed, when it claimed one.
 */
export interface AuthFailureLimiter {
  /** Seconds until this address (or this user name) may try again; 0 when it may try now. */
  blocked(address: string, username?: string): number
  /** Counts one failed authentication against the address and, when given, the user name. */
  fail(address: string, username?: string): void
}

export interface AuthFailureLimits {
  /** Failures per address per minute before refusing (`http.authFailuresPerMinute`, default 20). */
  perAddressPerMinute: number
  /** Failures per user name per minute, from any address (`http.authFailuresPerUsernamePerMinute`). */
  perUsernamePerMinute?: number
  /** Windows kept at most (the oldest is forgotten first), so a flood of names cannot grow memory. */
  maxKeys?: number
  now?: () => number
}

const WINDOW_MS = 60_000

/** One-minute windows in insertion order, so evicting the first key drops the oldest window. */
function windowCounter(limit: number, maxKeys: number, now: () => number) {
  const windows = new Map<string, { start: number; count: number }>()
  const current = (key: string) => {
    const w = windows.get(key)
    if (w && now() - w.start < WINDOW_MS) return w
    if (w) windows.delete(key)
    return undefined
  }
  return {
    retryAfter(key: string): number {
      const w = current(key)
      if (!w || w.count < limit) return 0
      return Math.max(1, Math.ceil((w.start + WINDOW_MS - now()) / 1000))
    },
    fail(key: string): void {
      const w = current(key)
      if (w) {
        w.count++
        return
      }
      if (windows.size >= maxKeys) {
        const oldest = windows.keys().next().value
        if (oldest !== undefined) windows.delete(oldest)
      }
      windows.set(key, { start: now(), count: 1 })
    },
  }
}

/** One key per address whichever listener saw it: an IPv4 peer of a dual-stack socket shows as `::ffff:a.b.c.d`. */
export function addressKey(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address
}

export function memoryAuthFailureLimiter(limits: AuthFailureLimits): AuthFailureLimiter {
  const maxKeys = limits.maxKeys ?? 10_000
  const now = limits.now ?? Date.now
  const byAddress = windowCounter(limits.perAddressPerMinute, maxKeys, now)
  const byUsername = windowCounter(limits.perUsernamePerMinute ?? limits.perAddressPerMinute, maxKeys, now)
  return {
    blocked(address, username) {
      const a = byAddress.retryAfter(addressKey(address))
      const u = username === undefined ? 0 : byUsername.retryAfter(username)
      return Math.max(a, u)
    },
    fail(address, username) {
      byAddress.fail(addressKey(address))
      if (username !== undefined) byUsername.fail(username)
    },
  }
}
