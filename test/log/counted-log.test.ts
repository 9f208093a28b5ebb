// gateway/log/counted-log.ts: every occurrence counted, a line at most once per interval.
import { describe, expect, it } from 'vitest'
import { CountedLog } from '../../gateway/log/counted-log.ts'

describe('CountedLog', () => {
  it('answers the count since the last line, at most once per interval', () => {
    let t = 1_000
    const log = new CountedLog(60_000, () => t)
    expect(log.note()).toBe(1)
    t += 1
    expect(log.note()).toBeUndefined()
    expect(log.note(5)).toBeUndefined()
    t += 59_998
    expect(log.note()).toBeUndefined()
    t += 1
    // What was held back since the first line (1 + 5 + 1), and this one.
    expect(log.note()).toBe(8)
    t += 60_000
    expect(log.note(3)).toBe(3)
  })
})
