/**
 * A size-bounded map that forgets the least recently used key. Hand-written on Map's insertion
 * order: a dozen lines, and the hot path of every reading should not pay for a general cache.
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>()
  constructor(readonly capacity: number) {}

  get(key: K): V | undefined {
    const v = this.map.get(key)
    if (v !== undefined) {
      this.map.delete(key)
      this.map.set(key, v)
    }
    return v
  }

  has(key: K): boolean {
    return this.map.has(key)
  }

  set(key: K, value: V): void {
    if (this.map.has(key)) this.map.delete(key)
    this.map.set(key, value)
    while (this.map.size > this.capacity) {
      const oldest = this.map.keys().next().value as K
      this.map.delete(oldest)
    }
  }

  delete(key: K): void {
    this.map.delete(key)
  }

  get size(): number {
    return this.map.size
  }
}

/**
 * The last `capacity` keys seen, forgotten first-in first-out: a ring of keys beside a Set. O(1)
 * per key with no Map iteration (V8 scans deleted slots when a Map is iterated from the front
 * after many deletes, which made an LRU eviction the hottest line of ingest).
 */
export class RecentKeys {
  private readonly ring: Array<string | undefined>
  private readonly set = new Set<string>()
  private pos = 0

  constructor(readonly capacity: number) {
    this.ring = new Array<string | undefined>(capacity)
  }

  has(key: string): boolean {
    return this.set.has(key)
  }

  add(key: string): void {
    if (this.set.has(key)) return
    const old = this.ring[this.pos]
    if (old !== undefined) this.set.delete(old)
    this.ring[this.pos] = key
    this.set.add(key)
    this.pos = (this.pos + 1) % this.capacity
  }
}
