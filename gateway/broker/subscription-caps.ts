// Bounds on what one client may subscribe to: how long one topic filter may be and how many
// filters one client may hold. MQTT 3.1.1 sets neither (a filter may be 65,535 bytes, clause
// 1.5.3), and every filter is a node in aedes' topic trie and, for a persistent session, a record
// kept after the client leaves. A refused filter gets return code 0x80 in the SUBACK (clause
// 3.9.3, MQTT-3.9.3-2 lets the server refuse each filter on its own); the connection stays open.
import type { Client, Subscription } from 'aedes'
import type { FilterDecision } from './acl.ts'

export interface SubscriptionLimits {
  /** Filters one client holds at most (its own and those restored with its session). */
  maxSubscriptionsPerClient: number
  /** Bytes (UTF-8) of one topic filter at most. */
  maxTopicFilterBytes: number
}

export class SubscriptionCaps {
  /** The filters granted to each client (restored ones included: aedes authorises those too). */
  private readonly granted = new WeakMap<Client, Set<string>>()
  /**
   * SUBSCRIBE entries that were refused. aedes stores a persistent session's subscriptions by
   * handing the persistence the whole SUBSCRIBE packet once per granted filter
   * (lib/handlers/subscribe.js storeSubscriptions), refused filters included; the persistence
   * asks `storable` to leave those out.
   */
  private readonly refused = new WeakSet<object>()

  constructor(private readonly limits: SubscriptionLimits) {}

  /**
   * One SUBSCRIBE entry: the length guard first (before the ACL or a log line reads the filter),
   * then `acl`, then the count (a filter already held may always be subscribed again). A granted
   * filter is counted, a refused one remembered as not storable.
   */
  decide(client: Client, sub: Subscription, acl: () => FilterDecision): FilterDecision {
    const d = this.check(client, sub, acl)
    if (!d.ok) {
      this.refused.add(sub)
      return d
    }
    let held = this.granted.get(client)
    if (!held) this.granted.set(client, (held = new Set()))
    held.add(sub.topic)
    return d
  }

  private check(client: Client, sub: Subscription, acl: () => FilterDecision): FilterDecision {
    if (Buffer.byteLength(sub.topic, 'utf8') > this.limits.maxTopicFilterBytes) return { ok: false, reason: 'filter_too_long' }
    const d = acl()
    if (!d.ok) return d
    const held = this.granted.get(client)
    if (held && !held.has(sub.topic) && held.size >= this.limits.maxSubscriptionsPerClient)
      return { ok: false, reason: 'too_many_subscriptions' }
    return d
  }

  /** aedes' `unsubscribe` event. */
  unsubscribed(client: Client, filters: readonly string[]): void {
    const held = this.granted.get(client)
    if (!held) return
    for (const f of filters) held.delete(f)
  }

  /** Whether the persistence may store this SUBSCRIBE entry (see `refused`). */
  storable(sub: object): boolean {
    return !this.refused.has(sub)
  }
}
