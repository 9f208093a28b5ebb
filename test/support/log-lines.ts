import { Writable } from 'node:stream'
import { createLogger, type Logger } from '../../gateway/log/logger.ts'

export type LogLine = { level: number; msg: string } & Record<string, unknown>

/**
 * The gateway's own logger (its redaction and serializers) at `level`, whose lines are kept, parsed,
 * to see what the code under test logs. `L`: the fields a test reads.
 */
export function capturingLogger<L extends { level: number; msg: string } = LogLine>(
  level: 'debug' | 'info' | 'warn' = 'info',
): { logger: Logger; lines: L[] } {
  const lines: L[] = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as L)
      done()
    },
  })
  return { logger: createLogger(level, stream), lines }
}
