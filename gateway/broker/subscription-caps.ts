// Bounds on what one client may subscribe to: how long one topic filter may be and how many
// filters one client may hold. MQTT 3.1.1 sets neither (a filter may be 65,535 bytes, clause
// 1.5.3), and every filter is a node in aedes' topic trie and, for a persistent session, a record
// kept after the client leaves. A refused filter gets return code 0x80 in the SUBACK (clause
// 3.9.3, MQTT-3.9.3-2 lets the server refuse each filter on its own); the connection stays open.
import type { Client, Subscription } from 'aedes'
import type { RefuseReason } from './types.ts'

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

  /** The length guard, before anything reads the filter (logs, the ACL). */
  tooLong(sub: Subscription): boolean {
    return Buffer.byteLength(sub.topic, 'utf8') > this.limits.maxTopicFilterBytes
  }

  /** After the ACL: null when the filter may be granted (a filter already held always may). */
  overCap(client: Client, sub: Subscription): RefuseReason | null {
    const held = this.granted.get(client)
    if (!held || held.has(sub.topic) || held.size < this.limits.maxSubscriptionsPerClient) return null
    return 'too_many_subscriptions'
  }

  grant(client: Client, sub: Subscription): void {
    let held = this.granted.get(client)
    if (!held) this.granted.set(client, (held = new Set()))
    held.add(sub.topic)
  }

  refuse(sub: Subscription): void {
    this.refused.add(sub)
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

  held(client: Client): number {
    return this.granted.get(client)?.size ?? 0
  }
}
