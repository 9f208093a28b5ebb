import Type from 'typebox'
import { Compile } from 'typebox/compile'
import type { DeviceStatusEvent } from '../bus/events.ts'

// `devices/{id}/status` of docs/mqtt.md: retained JSON `{"online", "ts", "fw"?, "uptime"?}`. The broker
// reads only what it needs to know whether a device is online; other fields (an agent may add its
// queue figures) pass through untouched to the status route.
const StatusPayload = Type.Object({
  online: Type.Boolean(),
  ts: Type.Optional(Type.Union([Type.String(), Type.Number()])),
  fw: Type.Optional(Type.String()),
  uptime: Type.Optional(Type.Number()),
})
const checkStatus = Compile(StatusPayload)

/** The status event in a payload, or null when it is not a status document. */
export function parseStatus(deviceId: string, payload: Buffer, receivedAt: number): DeviceStatusEvent | null {
  let doc: unknown
  try {
    doc = JSON.parse(payload.toString('utf8'))
  } catch {
    return null
  }
  if (!checkStatus.Check(doc)) return null
  const s = doc as { online: boolean; ts?: string | number; fw?: string; uptime?: number }
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

/** What the gateway publishes for a device that left without a will. */
export function offlinePayload(ts: number): Buffer {
  return Buffer.from(JSON.stringify({ online: false, ts: new Date(ts).toISOString() }))
}
