// Who may use which MQTT client id, and how many persistent sessions one identity may keep.
//
// MQTT 3.1.1 keys a session (subscriptions, queued QoS 1 messages, will) by the client id alone
// (clause 3.1.2.4), and a CONNECT with an id in use takes the old session over (MQTT-3.1.4-2),
// with clean session 1 deleting it. Without a rule tying the id to the identity that
// authenticated, any device or token could connect with another's id while it is offline and
// read its queued messages, delete its session, or hold the id so the owner is refused. So:
//
//   device `D`      uses `D` or `D:<suffix>`
//   token `tok-…`   uses `tok-…` or `tok-…:<suffix>` (the `id` POST /api/v1/tokens returns)
//   anyone          may send an empty id with clean session 1; the broker assigns a unique one
//                   (MQTT-3.1.3-6). An empty id with clean session 0 is refused (MQTT-3.1.3-8).
//
// `<suffix>` is 1 to 64 of `A-Z a-z 0-9 . _ -`. Device ids (registry DEVICE_ID_PATTERN) and
// token ids hold no `:`, so an id names at most one owner. The server may refuse ids outside
// what it allows with CONNACK 2, identifier rejected (MQTT-3.1.3-5, MQTT-3.2.2 table 3.1).
// docs/mqtt.md "Client ids" is the contract.
import type { Principal } from './sessions.ts'

const SUFFIX = /^[A-Za-z0-9._-]{1,64}$/

/** The id a principal's client ids start with. */
export function ownerOf(p: Principal): string {
  return p.kind === 'device' ? p.device.id : p.token.id
}

/** Whether `principal` may use `clientId` (as sent in the CONNECT) with this clean flag. */
export function ownsClientId(principal: Principal, clientId: string, clean: boolean): boolean {
  if (clientId === '') return clean
  const owner = ownerOf(principal)
  if (clientId === owner) return true
  return clientId.startsWith(owner) && clientId[owner.length] === ':' && SUFFIX.test(clientId.slice(owner.length + 1))
}

/**
 * The client ids of each identity that hold a persistent session (clean session 0) in the
 * broker's memory. aedes keeps such a session (its subscriptions and up to `mqtt.maxQueuedMessages`
 * queued messages) until the same id connects with clean session 1 or the gateway restarts;
 * MQTT 3.1.1 has no session expiry. Without a cap one token could open sessions under
 * `tok-…:1`, `tok-…:2`, ... and hold the heap. Bounded: at most `max` ids per identity, one
 * entry per identity that ever opened one while this process runs.
 */
export class PersistentSessions {
  private readonly byOwner = new Map<string, Set<string>>()

  constructor(private readonly max: number) {}

  /** Why `principal` may not connect with `clientId` (as sent) and this clean flag, or null. */
  refusal(principal: Principal, clientId: string, clean: boolean): 'client_id_not_owned' | 'persistent_session_limit' | null {
    if (!ownsClientId(principal, clientId, clean)) return 'client_id_not_owned'
    if (clean) return null
    const ids = this.byOwner.get(key(principal))
    return ids?.has(clientId) === true || (ids?.size ?? 0) < this.max ? null : 'persistent_session_limit'
  }

  /** After a CONNECT was accepted: clean 0 keeps (or starts) the session, clean 1 ends it. */
  accepted(principal: Principal, clientId: string, clean: boolean): void {
    // An empty id was replaced by a unique one: never a persistent session (MQTT-3.1.3-6).
    if (clientId === '') return
    const k = key(principal)
    let ids = this.byOwner.get(k)
    if (clean) {
      if (ids?.delete(clientId) && ids.size === 0) this.byOwner.delete(k)
      return
    }
    if (!ids) this.byOwner.set(k, (ids = new Set()))
    ids.add(clientId)
  }
}

function key(p: Principal): string {
  return `${p.kind}:${ownerOf(p)}`
}
