import { describe, expect, it } from 'vitest'
import { FailureRun } from '../../gateway/log/failure-run.ts'
import { capturingLogger } from '../support/log-lines.ts'

// gateway/log/failure-run.ts: a job failing on every run (the alert engine's rule state flush while
// PostgreSQL is down) logs when it starts failing, not once per run.

const capture = () => {
  const { logger, lines } = capturingLogger<{ level: number; msg: string; failures?: number; job?: string; err?: { message: string } }>(
    'debug',
  )
  return { lines, log: logger }
}
const flushed = () => new Promise((r) => setImmediate(r))

describe('FailureRun', () => {
  it('one line when failures start, one per other message or minute, one on recovery; every failure counted', async () => {
    const { lines, log } = capture()
    let t = 0
    let counted = 0
    const run = new FailureRun({ log, what: 'rule state flush failed', fields: { job: 'flush' }, now: () => t, onFailure: () => counted++ })
    const down = new Error('connect ECONNREFUSED 127.0.0.1:5432')
    for (let i = 0; i < 30; i++, t += 1000) run.failed(down)
    await flushed()
    expect(lines.map((l) => [l.level, l.msg, l.job, l.err?.message])).toEqual([[50, 'rule state flush failed', 'flush', down.message]])
    // Another error is not hidden behind the first.
    run.failed(new Error('relation "alert_rule_state" does not exist'))
    t += 1000
    // Still failing a minute after the last line: reminded, with the count so far.
    t += 60_000
    run.failed(down)
    run.failed(down)
    expect(run.failing).toBe(true)
    run.succeeded()
    run.succeeded()
    await flushed()
    expect(lines.map((l) => [l.level, l.msg, l.failures])).toEqual([
      [50, 'rule state flush failed', 1],
      [50, 'rule state flush failed', 31],
      [50, 'rule state flush failed', 32],
      [30, 'rule state flush failed: works again', 33],
    ])
    expect(counted).toBe(33)
    expect(run.failing).toBe(false)
    // A new outage is logged again at once.
    run.failed(down)
    await flushed()
    expect(lines.at(-1)).toMatchObject({ level: 50, failures: 1 })
  })
})
