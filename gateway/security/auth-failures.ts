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

export const AUTH_FAILURE_WINDOW_MS = 60_000

/** The start of the clock's minute holding `t`: the window every node names alike. */
export const alignedWindow = (t: number): number => t - (t % AUTH_FAILURE_WINDOW_MS)

/** A key's window: when it began (ms since the epoch) and the failures counted in it. */
export interface FailureWindow {
  start: number
  count: number
}

export interface WindowCounter {
  /** Seconds until `key` may try again; 0 when it may try now. */
  retryAfter(key: string): number
  /** Counts one failure of `key`; answers its window after counting. */
  fail(key: string): FailureWindow
  /**
   * Raises `key`'s count in the window beginning at `start` to at least `count` (another node's
   * count of the same window): a window older than the key's current one changes nothing, a newer
   * one replaces it. Taking the larger count makes a count heard twice, or out of order, harmless.
   */
  raise(key: string, start: number, count: number): void
}

/**
 * One-minute windows in insertion order, so evicting the first key drops the oldest window.
 * `aligned`: windows are the clock's minutes (every node agrees on them, auth-failures-shared.ts);
 * otherwise a window begins at the key's first failure, so one node never lets a burst through at
 * a minute's edge.
 */
export function windowCounter(limit: number, maxKeys: number, now: () => number, aligned = false): WindowCounter {
  const windows = new Map<string, FailureWindow>()
  const current = (key: string) => {
    const w = windows.get(key)
    // A start ahead of this clock (another node's, running ahead) is current until it is over here.
    if (w && now() - w.start < AUTH_FAILURE_WINDOW_MS) return w
    if (w) windows.delete(key)
    return undefined
  }
  const open = (key: string, start: number, count: number): FailureWindow => {
    if (windows.size >= maxKeys) {
      const oldest = windows.keys().next().value
      if (oldest !== undefined) windows.delete(oldest)
    }
    const w = { start, count }
    windows.set(key, w)
    return w
  }
  return {
    retryAfter(key) {
      const w = current(key)
      if (!w || w.count < limit) return 0
      return Math.max(1, Math.ceil((w.start + AUTH_FAILURE_WINDOW_MS - now()) / 1000))
    },
    fail(key) {
      const w = current(key)
      if (w) {
        w.count++
        return w
      }
      const t = now()
      return open(key, aligned ? alignedWindow(t) : t, 1)
    },
    raise(key, start, count) {
      const w = current(key)
      if (w && w.start === start) {
        w.count = Math.max(w.count, count)
        return
      }
      if ((w && w.start > start) || now() - start >= AUTH_FAILURE_WINDOW_MS) return
      // A newer window than the one kept: it goes to the end of the eviction order.
      if (w) windows.delete(key)
      open(key, start, count)
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
