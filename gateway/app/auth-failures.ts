import { hostname } from 'node:os'
import type { GatewayConfig } from '../config/schema.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import { memoryAuthFailureLimiter, type AuthFailureLimiter } from '../security/auth-failures.ts'
import { sharedAuthFailures } from '../security/auth-failures-shared.ts'

/**
 * One failed-authentication count for HTTP and MQTT: a client locked out of one is out of both.
 * With Redis, one count for every node too (docs/operations.md "Failed logins across nodes");
 * `loginNames` is the console's count per user name, shared the same way (in memory otherwise,
 * inside the API).
 */
export function authFailureLimiters(
  config: GatewayConfig,
  logger: Logger,
  metrics: Metrics,
): { authFailures: AuthFailureLimiter; loginNames: AuthFailureLimiter | undefined; close: () => Promise<void> } {
  const authLimits = {
    perAddressPerMinute: config.http.authFailuresPerMinute,
    perUsernamePerMinute: config.http.authFailuresPerUsernamePerMinute,
  }
  const shared = config.redis.url
    ? sharedAuthFailures({ redisUrl: config.redis.url, nodeId: config.server.nodeId ?? hostname(), logger, metrics })
    : undefined
  return {
    authFailures: shared?.limiter('auth', authLimits) ?? memoryAuthFailureLimiter(authLimits),
    loginNames: shared?.limiter('login', { perAddressPerMinute: config.auth.loginFailuresPerUserPerMinute }),
    close: async () => shared?.close(),
  }
}
