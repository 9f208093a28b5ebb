import { describe, expect, it } from 'vitest'
import { KeyedQueue, partitionOf } from '../../gateway/alerts/ordering.ts'

describe('per-subject ordering', () => {
  it('runs the tasks of one key one at a time in arrival order, other keys alongside', async () => {
    const q = new KeyedQueue()
    const log: string[] = []
    const task = (key: string, name: string, ms: number) =>
      q.run(key, async () => {
        log.push(`start ${name}`)
        await new Promise((r) => setTimeout(r, ms))
        log.push(`end ${name}`)
        if (name === 'a2') throw new Error('a2 failed')
        return name
      })
    const results = await Promise.allSettled([task('a', 'a1', 40), task('a', 'a2', 1), task('a', 'a3', 1), task('b', 'b1', 1)])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
    const a = log.filter((l) => l.includes(' a'))
    expect(a).toEqual(['start a1', 'end a1', 'start a2', 'end a2', 'start a3', 'end a3'])
    // b did not wait for a's slow first task.
    expect(log.indexOf('end b1')).toBeLessThan(log.indexOf('end a1'))
    await q.idle()
  })

  it('gives a camera zone the camera ordering key and every other subject its own', () => {
    expect(partitionOf('device:cam-le-loi:flood')).toBe('device:cam-le-loi')
    expect(partitionOf('device:kim-long-01')).toBe('device:kim-long-01')
    expect(partitionOf('station:kim-long')).toBe('station:kim-long')
    expect(partitionOf('webhook:w1')).toBe('webhook:w1')
  })
})
