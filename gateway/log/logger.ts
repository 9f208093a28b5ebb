import { pino, type Logger } from 'pino'

export type { Logger }

// Secrets must never reach a log line, whatever object a caller hands the logger.
const REDACT = [
  'password', 'secret', 'token', 'authorization', 'refresh_token', 'access_token',
  '*.password', '*.secret', '*.token', '*.authorization', '*.refresh_token', '*.access_token',
  'req.headers.authorization', 'headers.authorization', 'credentials.password',
]

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, redact: { paths: REDACT, censor: '[redacted]' }, base: { app: 'iocgw' } },
    destination ?? pino.destination({ dest: 1, sync: false }),
  )
}
