// aedes hands the persistence the whole SUBSCRIBE packet's list once per granted filter
// (lib/handlers/subscribe.js storeSubscriptions), refused filters included, and would then queue
// messages matching a refused filter for a persistent session while it is away. Both persistences
// (memory, offline-queue.ts; Redis, redis-queue.ts) store through this filter.

/** Stores each SUBSCRIBE list once, keeping only the entries `storable` accepts (all when unset). */
export function storeGrantedOnly(
  storable: ((sub: object) => boolean) | undefined,
): (subs: object[], store: (subs: object[]) => Promise<void>) => Promise<void> {
  const storedLists = new WeakSet<object[]>()
  return async (subs, store) => {
    if (!storable) return store(subs)
    // Once per list is enough (and keeps a SUBSCRIBE of n filters from costing n × n).
    if (storedLists.has(subs)) return
    storedLists.add(subs)
    // aedes calls this for the first granted filter before it has authorised the packet's later
    // ones (all within one synchronous loop); one microtask later every filter has its answer.
    await Promise.resolve()
    const kept = subs.filter(storable)
    if (kept.length > 0) await store(kept)
  }
}
