// SUBSCRIBE and every delivery to a subscriber: the topic ACL for the client's principal.
import type { AedesPublishPacket, Client, Subscription } from 'aedes'
import { deviceSubscribe, integrationSubscribe, mayForward } from './acl.ts'
import { safeText, type HookState } from './hook-state.ts'
import { principalKey } from './sessions.ts'

/**
 * SUBSCRIBE, one filter at a time. A refused filter gets return code 0x80 in the SUBACK
 * (clause 3.9.3; aedes sends 0x80 when the callback returns a null subscription) and the
 * connection stays open.
 */
export function authorizeSubscribe(
  hs: HookState,
  client: Client,
  sub: Subscription,
  cb: (err: Error | null, sub?: Subscription | null) => void,
): void {
  // Step 1: the session.
  const session = hs.sessions.get(client)
  // Step 2: the filter's length, the ACL for this principal, the filters the client holds.
  const d = hs.subscriptionCaps.decide(client, sub, () =>
    !session
      ? { ok: false, reason: 'not_permitted' }
      : session.principal.kind === 'device'
        ? deviceSubscribe(session.principal.device.id, sub.topic)
        : integrationSubscribe(session.principal.token.role, sub.topic),
  )
  if (!d.ok) {
    hs.m.subscribeRefused.inc({ reason: d.reason })
    hs.log.warn(
      {
        event: 'mqtt_subscribe_refused',
        client: safeText(client.id),
        principal: session ? principalKey(session.principal) : undefined,
        topic: safeText(sub.topic),
        reason: d.reason,
      },
      'MQTT subscribe refused (SUBACK 0x80)',
    )
    return cb(null, null)
  }
  // Step 3: the gateway serves QoS 0 and 1 (docs/mqtt.md); the granted QoS is capped at 1 (clause 3.9.3 lets the
  // server grant a lower maximum QoS than requested).
  if (sub.qos > 1) sub.qos = 1
  cb(null, sub)
}

/** Every delivery to a subscriber, retained ones included (defence in depth, see acl.ts). */
export function authorizeForward(hs: HookState, client: Client, packet: AedesPublishPacket) {
  const session = hs.sessions.get(client)
  if (!session) return null
  if (hs.retention.withheld(packet.payload)) {
    hs.m.forwardRefused.inc({ reason: 'invalid_status' })
    return null
  }
  const ok = mayForward(
    session.principal.kind === 'device'
      ? { kind: 'device', deviceId: session.principal.device.id }
      : { kind: 'integration', role: session.principal.token.role },
    packet.topic,
  )
  if (ok) return packet
  // `$SYS` traffic reaches no client; not worth a counter per heartbeat.
  if (!packet.topic.startsWith('$')) hs.m.forwardRefused.inc({ reason: 'not_permitted' })
  return null
}
