import { pino, type Logger } from 'pino'

export type { Logger }

// Secrets must never reach a log line, whatever object a caller hands the logger.
const REDACT = [
  'password',
  'secret',
  'token',
  'authorization',
  'refresh_token',
  'access_token',
  '*.password',
  '*.secret',
  '*.token',
  '*.authorization',
  '*.refresh_token',
  '*.access_token',
  'req.headers.authorization',
  'headers.authorization',
  'credentials.password',
]

/** Query parameters whose values are credentials (an EventSource cannot send headers, so clients put tokens there). */
const SECRET_PARAMS = /([?&](?:access_token|token|api_key|apikey|key|secret|password)=)[^&#]*/gi

/** A URL as it may be logged: the values of credential query parameters replaced. */
export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[redacted]')
}

/**
 * A user name as it may be logged. People paste a credential into the user name field: an API
 * token (`iocgw_...`) or a device secret (32 base64url characters, gateway/registry/secrets.ts).
 * Those are replaced; anything else is bounded and made printable (it is the client's text).
 */
export function safeUsername(s: string | undefined): string | undefined {
  if (s === undefined) return undefined
  if (/^iocgw_/i.test(s) || (/^[A-Za-z0-9_-]{32,}$/.test(s) && /[A-Z]/.test(s) && /[a-z]/.test(s) && /[0-9_-]/.test(s))) return '[redacted]'
  return s.slice(0, 80).replace(/[^\x20-\x7e]/g, '?')
}

interface LoggedRequest {
  method?: string
  url?: string
  host?: string
  ip?: string
  headers?: Record<string, unknown>
  socket?: { remoteAddress?: string; remotePort?: number } | null
}

/**
 * Fastify's request serializer with the URL redacted: it logs `req.url` as received, so
 * `?access_token=...` would reach the log in full. Used by Fastify instead of its own (it takes the
 * logger's serializers over its defaults, fastify/lib/logger-pino.js).
 */
function reqSerializer(req: LoggedRequest) {
  return {
    method: req.method,
    url: typeof req.url === 'string' ? redactUrl(req.url) : req.url,
    host: req.host,
    remoteAddress: req.ip ?? req.socket?.remoteAddress,
    remotePort: req.socket?.remotePort,
  }
}

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, redact: { paths: REDACT, censor: '[redacted]' }, serializers: { req: reqSerializer }, base: { app: 'iocgw' } },
    destination ?? pino.destination({ dest: 1, sync: false }),
  )
}
