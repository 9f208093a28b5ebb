import { describe, expect, it } from 'vitest'
import { BoundedMap, RecentReadings, SeqTsSet } from '../../gateway/util/lru.ts'

describe('de-dup window', () => {
  it('SeqTsSet tells (seq, ts) pairs apart, seq null included, several seqs at one instant', () => {
    const s = new SeqTsSet()
    expect(s.add(1, 1000)).toBe(true)
    expect(s.add(1, 1000)).toBe(false)
    expect(s.add(2, 1000)).toBe(true)
    expect(s.add(null, 1000)).toBe(true)
    expect(s.add(null, 1000)).toBe(false)
    expect(s.has(0, 1000)).toBe(false)
    expect(s.has(1, 1001)).toBe(false)
    expect(s.size).toBe(3)
    s.delete(1, 1000)
    expect(s.has(1, 1000)).toBe(false)
    expect(s.has(2, 1000)).toBe(true)
    expect(s.has(null, 1000)).toBe(true)
    s.delete(7, 1000) // absent: no change
    expect(s.size).toBe(2)
  })

  it('RecentReadings forgets first-in first-out, per device, and frees emptied devices', () => {
    const w = new RecentReadings(3)
    w.add('a', 1, 10)
    w.add('b', 1, 10)
    w.add('a', 1, 10) // already there: takes no slot
    w.add('a', null, 11)
    expect(w.has('a', 1, 10)).toBe(true)
    expect(w.has('b', 1, 10)).toBe(true)
    expect(w.has('a', 1, 11)).toBe(false)
    w.add('c', 5, 12) // evicts ('a', 1, 10)
    expect(w.has('a', 1, 10)).toBe(false)
    expect(w.has('a', null, 11)).toBe(true)
    w.add('c', 6, 13) // evicts ('b', 1, 10)
    w.add('c', 7, 14) // evicts ('a', null, 11)
    expect(w.has('b', 1, 10)).toBe(false)
    expect(w.has('a', null, 11)).toBe(false)
    expect(w.has('c', 5, 12) && w.has('c', 6, 13) && w.has('c', 7, 14)).toBe(true)
  })

  it('agrees with a plain list over a long random run', () => {
    const rnd = lcg(3)
    agreesWithList(500, 20_000, () => [
      `d${Math.floor(rnd() * 5)}`,
      rnd() < 0.1 ? null : Math.floor(rnd() * 50),
      1_700_000_000_000 + Math.floor(rnd() * 200),
    ])
  })
})

const lcg = (seed: number) => {
  let s = seed
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
}

type Key = [device: string, seq: number | null, ts: number]

/** Feeds `n` readings from `next` to a window of `capacity` and to a plain first-in first-out list. */
function agreesWithList(capacity: number, n: number, next: (i: number) => Key): void {
  const w = new RecentReadings(capacity)
  const list: string[] = []
  for (let i = 0; i < n; i++) {
    const [d, seq, ts] = next(i)
    const key = `${d}|${seq}|${ts}`
    expect(w.has(d, seq, ts)).toBe(list.includes(key))
    if (!list.includes(key)) {
      list.push(key)
      if (list.length > capacity) list.shift()
    }
    w.add(d, seq, ts)
  }
}

describe('de-dup window, readings mostly in time order', () => {
  it('agrees with a plain list when devices send rising times, resend, replay old ones and reuse instants', () => {
    const rnd = lcg(11)
    const clock = [0, 0, 0, 0].map(() => 1_700_000_000_000)
    const sent: Key[] = []
    agreesWithList(400, 30_000, (i) => {
      const dev = Math.floor(rnd() * 4)
      const r = rnd()
      let reading: Key
      if (r < 0.8)
        reading = [`d${dev}`, i, (clock[dev]! += 1 + Math.floor(rnd() * 3))] // the usual: later than any before
      else if (r < 0.9 && sent.length > 0)
        reading = sent[sent.length - 1 - Math.floor(rnd() * Math.min(sent.length, 600))]! // a resend, recent or forgotten
      else if (r < 0.95)
        reading = [`d${dev}`, i, clock[dev]! - Math.floor(rnd() * 500)] // a replayed old reading
      else reading = [`d${dev}`, i, clock[dev]!] // another seq at the newest instant
      sent.push(reading)
      return reading
    })
  })

  it('SeqTsSet forgets any pair, not only the oldest', () => {
    const s = new SeqTsSet()
    for (let t = 1; t <= 40; t++) s.add(t, t * 10)
    s.delete(20, 200)
    s.delete(1, 10)
    expect(s.has(20, 200)).toBe(false)
    expect(s.has(1, 10)).toBe(false)
    expect(s.has(2, 20) && s.has(21, 210) && s.has(40, 400)).toBe(true)
    expect(s.add(20, 200)).toBe(true) // forgotten, so new again
    expect(s.add(20, 200)).toBe(false)
    expect(s.size).toBe(39)
  })
})

describe('BoundedMap', () => {
  it('never holds more than its capacity and keeps keys that are used', () => {
    const m = new BoundedMap<string, number>(10)
    for (let i = 0; i < 1000; i++) {
      m.set(`k${i}`, i)
      expect(m.get('hot')).toBe(i === 0 ? undefined : 1)
      if (i === 0) m.set('hot', 1)
      expect(m.size).toBeLessThanOrEqual(10)
    }
    expect(m.has('k999')).toBe(true)
    expect(m.has('k0')).toBe(false)
    m.set('hot', 2)
    expect(m.get('hot')).toBe(2)
    m.delete('hot')
    expect(m.has('hot')).toBe(false)
  })
})

describe('SeqTsSet far from its first instant', () => {
  it('keeps pairs months apart, in both directions', () => {
    const s = new SeqTsSet()
    const t0 = 1_700_000_000_000
    const times = [t0, t0 + 1, t0 - 1, t0 + 2 ** 30 + 5, t0 - 2 ** 30 - 5, t0 + 90 * 86_400_000, t0 - 90 * 86_400_000]
    for (const t of times) expect(s.add(1, t)).toBe(true)
    for (const t of times) expect(s.add(1, t)).toBe(false)
    for (const t of times) expect(s.has(1, t) && !s.has(2, t)).toBe(true)
    expect(s.size).toBe(times.length)
    for (const t of times) s.delete(1, t)
    for (const t of times) expect(s.has(1, t)).toBe(false)
    expect(s.size).toBe(0)
  })
})
