import { Compile } from 'typebox/compile'
import type { DeviceStatusEvent } from '../bus/events.ts'
import { DeviceStatus } from '../protocol/schemas.ts'

// `devices/{id}/status` of docs/mqtt.md: retained JSON `{"online", "ts", "fw"?, "uptime"?}`, one
// schema (gateway/protocol DeviceStatus) for the broker and the status route. The broker reads only
// what it needs to know whether a device is online; other fields (an agent may add its queue
// figures) pass through untouched to the status route.
const checkDeviceStatus = Compile(DeviceStatus)

// The retention check and the online state read the same payload (aedes keeps one Buffer per
// packet): it is parsed and checked once.
const read = new WeakMap<Buffer, DeviceStatus | 'invalid_json' | 'invalid_payload'>()
function readStatus(payload: Buffer): DeviceStatus | 'invalid_json' | 'invalid_payload' {
  let r = read.get(payload)
  if (r === undefined) {
    try {
      const doc: unknown = JSON.parse(payload.toString('utf8'))
      r = checkDeviceStatus.Check(doc) ? doc : 'invalid_payload'
    } catch {
      r = 'invalid_json'
    }
    read.set(payload, r)
  }
  return r
}

/** The status event in a payload, or null when it is not a status document. */
export function parseStatus(deviceId: string, payload: Buffer, receivedAt: number): DeviceStatusEvent | null {
  const s = readStatus(payload)
  if (typeof s === 'string') return null
  const ts = typeof s.ts === 'number' ? s.ts : typeof s.ts === 'string' ? Date.parse(s.ts) : Number.NaN
  return {
    device: deviceId,
    online: s.online,
    // docs/mqtt.md: a missing (or unreadable) time means arrival time.
    ts: Number.isFinite(ts) ? ts : receivedAt,
    ...(s.fw !== undefined ? { fw: s.fw } : {}),
    ...(s.uptime !== undefined ? { uptime: s.uptime } : {}),
  }
}

/** A status is a few hundred bytes (the edge agent's, with its queue figures, about 250). */
export const MAX_STATUS_BYTES = 4096

export type StatusRefusal = 'too_large' | 'invalid_json' | 'invalid_payload'

/**
 * Why a status payload may not become the retained `devices/{id}/status`, or null when it may.
 * The retained message is what every new subscriber is served first (MQTT-3.3.1-6), so only a
 * status document (docs/mqtt.md, gateway/protocol DeviceStatus) of at most MAX_STATUS_BYTES with
 * a readable time is kept; anything else leaves the previous retained status in place.
 */
export function statusRefusal(payload: Buffer): StatusRefusal | null {
  if (payload.length > MAX_STATUS_BYTES) return 'too_large'
  const doc = readStatus(payload)
  if (typeof doc === 'string') return doc
  const ts = doc.ts
  if (typeof ts === 'string' && !Number.isFinite(Date.parse(ts))) return 'invalid_payload'
  return null
}

/**
 * Which statuses become retained. One that may not (statusRefusal) is still routed and
 * acknowledged, but its payload is remembered so that `authorizeForward` withholds it from every
 * subscriber, live or queued (aedes copies a packet per delivery but keeps its payload Buffer).
 */
export class StatusRetention {
  private readonly invalid = new WeakSet<Buffer>()

  constructor(private readonly onRefused: (reason: StatusRefusal, payload: Buffer, topic: string) => void) {}

  /** Whether this status publish (or will) may be retained; sets its payload to a Buffer. */
  retain(packet: { topic: string; payload: string | Buffer }): boolean {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : (packet.payload = Buffer.from(packet.payload))
    const why = statusRefusal(payload)
    if (why === null) return true
    this.invalid.add(payload)
    this.onRefused(why, payload, packet.topic)
    return false
  }

  withheld(payload: string | Buffer): boolean {
    return Buffer.isBuffer(payload) && this.invalid.has(payload)
  }
}

/** What the gateway publishes for a device that left without a will. */
export function offlinePayload(ts: number): Buffer {
  return Buffer.from(JSON.stringify({ online: false, ts: new Date(ts).toISOString() }))
}
