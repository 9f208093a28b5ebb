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

  it('runs posted work at once when nothing of its key is queued, and behind what is', async () => {
    const q = new KeyedQueue()
    const log: string[] = []
    // A step and its three arguments, as the engine posts them (engine.ts `ordered`).
    const push = (into: string[], entry: string, suffix: string | undefined) => void into.push(entry + (suffix ?? ''))
    // Finished synchronously: ran before post returned, nothing queued, no promise.
    expect(q.post('a', push, log, 'a1', undefined)).toBeUndefined()
    expect(log).toEqual(['a1'])
    // Goes asynchronous: what is posted for the same key meanwhile waits for it, in order.
    let release!: () => void
    const slow = q.post(
      'a',
      (into: string[], entry: string) => {
        into.push(`${entry} start`)
        return new Promise<void>((r) => (release = r)).then(() => void into.push(`${entry} end`))
      },
      log,
      'a2',
      undefined,
    )
    expect(slow).toBeInstanceOf(Promise)
    const behind = q.post('a', push, log, 'a3', ' (queued)')
    const afterRun = q.run('a', async () => void log.push('a4'))
    // Another key does not wait.
    expect(q.post('b', push, log, 'b1', undefined)).toBeUndefined()
    expect(log).toEqual(['a1', 'a2 start', 'b1'])
    release()
    await Promise.all([slow, behind, afterRun])
    expect(log).toEqual(['a1', 'a2 start', 'b1', 'a2 end', 'a3 (queued)', 'a4'])
    // Its key's queue has run dry: the next one runs at once again.
    await q.idle()
    expect(q.post('a', push, log, 'a5', undefined)).toBeUndefined()
    expect(log.at(-1)).toBe('a5')
    // A synchronous throw reaches the caller and leaves nothing queued.
    const bad = () => {
      throw new Error('bad input')
    }
    expect(() => q.post('c', bad, undefined, undefined, undefined)).toThrow('bad input')
    expect(q.post('c', push, log, 'c1', undefined)).toBeUndefined()
  })

  it('gives a camera zone the camera ordering key and every other subject its own', () => {
    expect(partitionOf('device:cam-le-loi:flood')).toBe('device:cam-le-loi')
    expect(partitionOf('device:kim-long-01')).toBe('device:kim-long-01')
    expect(partitionOf('station:kim-long')).toBe('station:kim-long')
    expect(partitionOf('webhook:w1')).toBe('webhook:w1')
  })
})
