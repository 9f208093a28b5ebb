// One POST /write and what its outcome says about InfluxDB, shared by the write path (writer.ts)
// and the spool drainer (drainer.ts), which send the same line-protocol bytes the same way.
import type { InfluxState } from './state.ts'
import type { PostError } from './write-request.ts'

export class WriteError extends Error {
  constructor(
    message: string,
    /** false: InfluxDB refused the points themselves (400); sending them again cannot help. */
    readonly retryable: boolean,
    readonly reason: string,
  ) {
    super(message)
  }
}

/** One POST /write; throws a WriteError saying whether it is worth retrying. */
export async function sendLines(s: InfluxState, body: Buffer): Promise<void> {
  let res: { status: number; text: string }
  try {
    res = await s.poster.post(body)
  } catch (err) {
    const e = err as PostError
    throw new WriteError(`InfluxDB write failed: ${e.message}`, true, e.kind)
  }
  if (res.status === 204) {
    s.reachable = true
    return
  }
  const text = res.text
  if (res.status === 400) throw new WriteError(`InfluxDB refused points: ${text}`, false, 'rejected')
  if (res.status === 404 && /database not found/.test(text)) {
    s.setupDone = false // recreated by the drainer (InfluxDB came back empty)
    throw new WriteError(`InfluxDB: ${text}`, true, 'no_database')
  }
  throw new WriteError(`InfluxDB write answered ${res.status}: ${text}`, true, `http_${res.status}`)
}

export function refusedPoints(s: InfluxState, n: number, err: Error): void {
  s.m.rejected(n)
  s.m.failure('rejected')
  s.opts.logger.error({ err: err.message, points: n }, 'InfluxDB refused points; they are not retried')
}

export function markUnreachable(s: InfluxState, err: WriteError): void {
  if (s.reachable) s.opts.logger.warn({ err: err.message }, 'InfluxDB unreachable; points go to the disk spool')
  s.reachable = false
  s.lastError = err.message
  s.m.failure(err.reason)
}
