import { Writable } from 'node:stream'
import { pino } from 'pino'
import type { Logger } from '../../gateway/log/logger.ts'

export type LogLine = { level: number; msg: string } & Record<string, unknown>

/** A logger at `level` whose lines are kept, parsed, to see what the code under test logs. */
export function capturingLogger(level: 'debug' | 'info' | 'warn' = 'info'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as LogLine)
      done()
    },
  })
  return { logger: pino({ level }, stream), lines }
}
