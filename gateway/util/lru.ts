/**
 * A size-bounded map that forgets keys not used for a while, in two generations: keys live in
 * `young`; when it holds half the capacity, `old` is dropped and `young` becomes `old`; a key read
 * from `old` moves back to `young`. So a key used at least once per generation stays, the size
 * never exceeds the capacity, and a read costs one or two Map lookups. Hand-written rather than an
 * LRU package: a strict LRU reorders its list on every read, and this map is read for every
 * reading (reordering a Map by delete and set was a visible share of ingest's CPU).
 */
export class BoundedMap<K, V> {
  private young = new Map<K, V>()
  private old = new Map<K, V>()
  private readonly half: number

  constructor(readonly capacity: number) {
    this.half = Math.max(1, Math.floor(capacity / 2))
  }

  get(key: K): V | undefined {
    const v = this.young.get(key)
    if (v !== undefined) return v
    const o = this.old.get(key)
    if (o !== undefined) {
      this.old.delete(key)
      this.insert(key, o)
    }
    return o
  }

  has(key: K): boolean {
    return this.young.has(key) || this.old.has(key)
  }

  set(key: K, value: V): void {
    if (this.young.has(key)) {
      this.young.set(key, value)
      return
    }
    this.old.delete(key)
    this.insert(key, value)
  }

  delete(key: K): void {
    this.young.delete(key)
    this.old.delete(key)
  }

  get size(): number {
    return this.young.size + this.old.size
  }

  private insert(key: K, value: V): void {
    if (this.young.size >= this.half) {
      this.old = this.young
      this.young = new Map()
    }
    this.young.set(key, value)
  }
}

/** 2^30 ms (about 12 days): offsets within it are V8 small integers. */
const NEAR = 2 ** 30 - 1

/** seq as a number key: readings without one share -1 (seq is a non-negative integer, docs/mqtt.md). */
const seqKey = (seq: number | null): number => (seq === null ? -1 : seq)

/**
 * A set of (seq, ts) pairs of one device, as numbers. Most readings arrive in time order: a pair
 * newer than every earlier one goes to the in-order part, two typed arrays sorted by ts (appended
 * at the end, forgotten from the front, searched by bisection), which costs no Map operation and
 * no heap object. Every other pair (a resend, a replay after an outage, two seqs at one instant)
 * goes to maps ts → seq, or the list of seqs when one instant carries several. Numbers rather
 * than a `${device}|${seq}|${ts}` string per reading: such strings, kept in the de-dup window,
 * outlived the young generation, and promoting them was the largest part of the GC's work.
 */
export class SeqTsSet {
  // In-order part: ts strictly rising over [head, tail); a forgotten seq is NaN (matches nothing).
  private ots: Float64Array | undefined
  private oseq: Float64Array | undefined
  private head = 0
  private tail = 0
  // ts as an offset from the first instant seen, so that keys within ±12 days of it are small
  // integers (V8 Smis: hashed and stored without a heap number each); others go to `far`.
  private base = Number.NaN
  private readonly near = new Map<number, number | number[]>()
  private far: Map<number, number | number[]> | undefined
  /** Newest instant ever added: a later one cannot be in the set. */
  private newest = -Infinity
  size = 0

  /** Index of `ts` in the in-order part, or -1. */
  private ordered(ts: number): number {
    const a = this.ots
    if (a === undefined) return -1
    let lo = this.head
    let hi = this.tail - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const v = a[mid]!
      if (v === ts) return mid
      if (v < ts) lo = mid + 1
      else hi = mid - 1
    }
    return -1
  }

  private append(ts: number, k: number): void {
    if (this.ots === undefined || this.tail === this.ots.length) {
      const live = this.tail - this.head
      const size = Math.max(16, live * 2)
      const ts2 = new Float64Array(size)
      const seq2 = new Float64Array(size)
      if (this.ots !== undefined) {
        ts2.set(this.ots.subarray(this.head, this.tail))
        seq2.set(this.oseq!.subarray(this.head, this.tail))
      }
      this.ots = ts2
      this.oseq = seq2
      this.head = 0
      this.tail = live
    }
    this.ots[this.tail] = ts
    this.oseq![this.tail] = k
    this.tail++
  }

  private get(ts: number): number | number[] | undefined {
    if (Number.isNaN(this.base)) this.base = ts
    const d = ts - this.base
    return d >= -NEAR && d <= NEAR ? this.near.get(d) : this.far?.get(ts)
  }

  private put(ts: number, v: number | number[] | undefined): void {
    const d = ts - this.base
    const near = d >= -NEAR && d <= NEAR
    const map = near ? this.near : (this.far ??= new Map())
    if (v === undefined) map.delete(near ? d : ts)
    else map.set(near ? d : ts, v)
  }

  private inMaps(k: number, ts: number): boolean {
    if (this.near.size === 0 && this.far === undefined) return false
    const v = this.get(ts)
    return v === k || (Array.isArray(v) && v.includes(k))
  }

  has(seq: number | null, ts: number): boolean {
    if (ts > this.newest) return false
    const k = seqKey(seq)
    const i = this.ordered(ts)
    return (i >= 0 && this.oseq![i] === k) || this.inMaps(k, ts)
  }

  /** false when the pair was already there. */
  add(seq: number | null, ts: number): boolean {
    const k = seqKey(seq)
    if (ts > this.newest) {
      this.newest = ts
      this.append(ts, k)
      this.size++
      return true
    }
    const i = this.ordered(ts)
    if (i >= 0 && this.oseq![i] === k) return false
    const v = this.get(ts)
    if (v === undefined) this.put(ts, k)
    else if (v === k || (Array.isArray(v) && v.includes(k))) return false
    else if (Array.isArray(v)) v.push(k)
    else this.put(ts, [v, k])
    this.size++
    return true
  }

  delete(seq: number | null, ts: number): void {
    const k = seqKey(seq)
    // Forgetting is first-in first-out in the de-dup window: usually the head, found without a search.
    const i = this.head < this.tail && this.ots![this.head] === ts ? this.head : this.ordered(ts)
    if (i >= 0 && this.oseq![i] === k) {
      this.oseq![i] = Number.NaN
      while (this.head < this.tail && Number.isNaN(this.oseq![this.head])) this.head++
      this.size--
      return
    }
    const v = this.get(ts)
    if (v === k) this.put(ts, undefined)
    else if (Array.isArray(v)) {
      const j = v.indexOf(k)
      if (j < 0) return
      v.splice(j, 1)
      if (v.length === 1) this.put(ts, v[0]!)
    } else return
    this.size--
  }
}

/**
 * The last `capacity` readings accepted, as (device, seq, ts), forgotten first-in first-out: a
 * ring of (device, seq, ts) beside a SeqTsSet per device. O(1) per reading, no string per key.
 */
export class RecentReadings {
  private readonly devices = new Map<string, SeqTsSet>()
  private readonly ringDevice: Array<string | undefined>
  private readonly ringSeq: Float64Array
  private readonly ringTs: Float64Array
  private pos = 0

  constructor(readonly capacity: number) {
    this.ringDevice = new Array<string | undefined>(capacity)
    this.ringSeq = new Float64Array(capacity)
    this.ringTs = new Float64Array(capacity)
  }

  has(device: string, seq: number | null, ts: number): boolean {
    return this.devices.get(device)?.has(seq, ts) ?? false
  }

  /** The device's pairs, to test several readings of one message with one lookup. */
  of(device: string): Pick<SeqTsSet, 'has'> | undefined {
    return this.devices.get(device)
  }

  add(device: string, seq: number | null, ts: number): void {
    let set = this.devices.get(device)
    if (!set) {
      set = new SeqTsSet()
      this.devices.set(device, set)
    }
    if (!set.add(seq, ts)) return
    const old = this.ringDevice[this.pos]
    if (old !== undefined) {
      const oldSeq = this.ringSeq[this.pos]!
      const oldSet = this.devices.get(old)!
      oldSet.delete(oldSeq < 0 ? null : oldSeq, this.ringTs[this.pos]!)
      if (oldSet.size === 0) this.devices.delete(old)
    }
    this.ringDevice[this.pos] = device
    this.ringSeq[this.pos] = seqKey(seq)
    this.ringTs[this.pos] = ts
    this.pos = (this.pos + 1) % this.capacity
  }
}
