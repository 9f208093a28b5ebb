// Topic access control of docs/mqtt.md "What each client may do", as pure functions so the matrix can be tested without a
// socket. The aedes hooks in hooks.ts call these and turn a refusal into the MQTT answer.
//
// Devices (username = device id):
//   publish   devices/{own id}/telemetry | status | frames | frames/{epoch ms} | cmd/ack
//   subscribe devices/{own id}/config | devices/{own id}/cmd        (exact filters, no wildcards)
// Integrations (username `token`, password = API token): read only, what their role lists in
// ROLE_READ below; they publish nothing.
import { DEVICE_TOPIC_PREFIX, deviceTopic } from '../protocol/topics.ts'
import type { Role } from '../registry/types.ts'
import type { RefuseReason, RouteKey } from './types.ts'

/** What each API role may read over MQTT. All roles read; the role narrows what only over HTTP
 * (acknowledging alerts, managing devices), so the MQTT read set is the same for all four today.
 * Camera frames and command traffic are never readable by integrations: frames are bulky and may
 * show people (kept inside the gateway), commands are between the gateway and one device. */
export const ROLE_READ: Readonly<Record<Role, ReadonlyArray<'alerts' | 'telemetry' | 'status'>>> = {
  admin: ['alerts', 'telemetry', 'status'],
  technician: ['alerts', 'telemetry', 'status'],
  officer: ['alerts', 'telemetry', 'status'],
  viewer: ['alerts', 'telemetry', 'status'],
}

export type PublishDecision = { ok: true; route: RouteKey; subtopic: string } | { ok: false; reason: RefuseReason }

export type FilterDecision = { ok: true } | { ok: false; reason: RefuseReason }

/** A capture time in the topic (`frames/{epoch ms}`): digits only, at most 16 (year 318857). */
const FRAME_TIME = /^frames\/[0-9]{1,16}$/

function hasWildcard(topic: string): boolean {
  return topic.includes('#') || topic.includes('+')
}

/** Reasons shared by publish and subscribe, checked first (guards before anything else). */
function commonRefusal(deviceOrNull: string | null, topic: string): RefuseReason | null {
  // MQTT 4.7.2: topics starting with `$` are the server's; `$SYS/...` is never a client's.
  if (topic.startsWith('$')) return 'reserved_topic'
  if (hasWildcard(topic)) return 'wildcard'
  if (deviceOrNull !== null && topic.startsWith(DEVICE_TOPIC_PREFIX)) {
    const rest = topic.slice(DEVICE_TOPIC_PREFIX.length)
    const slash = rest.indexOf('/')
    const owner = slash === -1 ? rest : rest.slice(0, slash)
    if (owner !== deviceOrNull) return 'other_device'
  }
  return null
}

/** A device publishing on `topic`: allowed only under its own `devices/{id}/` (docs/mqtt.md). */
export function devicePublish(deviceId: string, topic: string): PublishDecision {
  const refused = commonRefusal(deviceId, topic)
  if (refused) return { ok: false, reason: refused }
  const prefix = `${DEVICE_TOPIC_PREFIX}${deviceId}/`
  if (!topic.startsWith(prefix)) return { ok: false, reason: 'not_permitted' }
  const subtopic = topic.slice(prefix.length)
  switch (subtopic) {
    case 'telemetry':
    case 'status':
    case 'frames':
      return { ok: true, route: subtopic, subtopic }
    case 'cmd/ack':
      return { ok: true, route: 'cmd', subtopic }
  }
  if (FRAME_TIME.test(subtopic)) return { ok: true, route: 'frames', subtopic }
  return { ok: false, reason: 'not_permitted' }
}

/** A device subscribing to `filter`: its own `config` and `cmd` only, no wildcard (docs/mqtt.md). */
export function deviceSubscribe(deviceId: string, filter: string): FilterDecision {
  const refused = commonRefusal(deviceId, filter)
  if (refused) return { ok: false, reason: refused }
  if (filter === deviceTopic.config(deviceId) || filter === deviceTopic.cmd(deviceId)) return { ok: true }
  return { ok: false, reason: 'not_permitted' }
}

/**
 * An integration subscribing to `filter`. Allowed shapes:
 *   alerts/#, alerts/{kind}/#, alerts/+/{station}, ... (anything whose first level is `alerts`)
 *   devices/+/telemetry, devices/{id}/telemetry, devices/+/status, devices/{id}/status
 * Anything else (`#`, `+/...`, `$SYS/#`, `devices/#`, `devices/+/+`, frames, cmd) is refused.
 */
export function integrationSubscribe(role: Role, filter: string): FilterDecision {
  if (filter.startsWith('$')) return { ok: false, reason: 'reserved_topic' }
  const levels = filter.split('/')
  const first = levels[0]
  if (first === '#' || first === '+') return { ok: false, reason: 'wildcard' }
  const read = ROLE_READ[role]
  if (first === 'alerts') {
    return read.includes('alerts') ? { ok: true } : { ok: false, reason: 'role' }
  }
  if (first === 'devices' && levels.length === 3) {
    const [, id, what] = levels as [string, string, string]
    // `devices/+/+` or `devices/x/#` would take in frames and commands.
    if (what !== 'telemetry' && what !== 'status') {
      return { ok: false, reason: what === '#' || what === '+' ? 'wildcard' : 'not_permitted' }
    }
    if (id === '#' || (hasWildcard(id) && id !== '+')) return { ok: false, reason: 'wildcard' }
    return read.includes(what) ? { ok: true } : { ok: false, reason: 'role' }
  }
  if (first === 'devices' && hasWildcard(filter)) return { ok: false, reason: 'wildcard' }
  return { ok: false, reason: 'not_permitted' }
}

/**
 * Whether a message on `topic` may be delivered to a subscriber. Subscriptions are already
 * checked, so this is defence in depth (sessions restored from persistence, retained messages,
 * a future ACL change): a device receives only its own config and cmd; an integration only what
 * its role reads, never frames.
 */
export function mayForward(subscriber: { kind: 'device'; deviceId: string } | { kind: 'integration'; role: Role }, topic: string): boolean {
  if (subscriber.kind === 'device') {
    const own = `${DEVICE_TOPIC_PREFIX}${subscriber.deviceId}/`
    return topic === `${own}config` || topic === `${own}cmd`
  }
  const read = ROLE_READ[subscriber.role]
  if (topic.startsWith('alerts/')) return read.includes('alerts')
  if (!topic.startsWith(DEVICE_TOPIC_PREFIX)) return false
  const levels = topic.split('/')
  if (levels.length !== 3) return false
  const what = levels[2]
  return (what === 'telemetry' || what === 'status') && read.includes(what)
}
