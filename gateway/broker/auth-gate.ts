// The failed-authentication limit and the refusal log, as MQTT CONNECT uses them. The limiter is
// the one the HTTP API uses (gateway/security/auth-failures.ts), so failures on either count for
// both. Past the limit a CONNECT is refused with CONNACK 5 (not authorized, clause 3.2.2.3) at
// once, without checking its secret: guessing gets no answer, right or wrong.
import { safeUsername } from '../log/logger.ts'
import type { AuthFailureLimiter } from '../security/auth-failures.ts'
import type { RefusalSummary } from '../security/refusal-log.ts'
import type { ConnectRefuseReason } from './types.ts'

/** Refusals that mean a wrong or missing credential: these count toward the limit. */
const CREDENTIAL_FAILURES: ReadonlySet<ConnectRefuseReason> = new Set(['missing_credentials', 'unknown_device', 'bad_secret', 'bad_token'])

export interface AuthGate {
  /** True when this address or user name is past the limit (refuse with `rate_limited`). */
  blocked(address: string | undefined, username: string | undefined): boolean
  /** Records a refused CONNECT: counted toward the limit when a credential was wrong, and summarised in the log. */
  refused(reason: ConnectRefuseReason, address: string | undefined, username: string | undefined): void
}

/**
 * `sharedUsername`: the user name every integration connects with (`token`). It names no one, so it
 * is not limited by name (a wrong token would lock every integration out); its address still is.
 */
export function createAuthGate(limiter: AuthFailureLimiter, summary: RefusalSummary, sharedUsername: string): AuthGate {
  const nameKey = (username: string | undefined): string | undefined =>
    username === undefined || username === '' || username === sharedUsername ? undefined : username
  return {
    blocked(address, username) {
      return limiter.blocked(address ?? 'unknown', nameKey(username)) > 0
    },
    refused(reason, address, username) {
      if (CREDENTIAL_FAILURES.has(reason)) limiter.fail(address ?? 'unknown', nameKey(username))
      summary.note(address, safeUsername(username), reason)
    },
  }
}
