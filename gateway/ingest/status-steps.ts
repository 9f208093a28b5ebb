// The status route (docs/mqtt.md "devices/{id}/status"): a status checked against its schema,
// stored, and only then announced on the bus as `device-status`.
import { Compile } from 'typebox/compile'
import type { DevicePublish } from '../broker/types.ts'
import { DeviceStatus } from '../protocol/index.ts'
import { decode, refuse, type IngestState } from './ingest-state.ts'
import { statusPoint } from './points.ts'
import { Refused } from './reasons.ts'
import { parseTs } from './timestamps.ts'

const checkStatus = Compile(DeviceStatus)

/** Guards first (schema, time), the store write next, the bus last. */
export async function statusArrived(ing: IngestState, msg: DevicePublish): Promise<void> {
  ing.m.messages.inc({ topic: 'status' })
  let ev: { device: string; online: boolean; ts: number; fw?: string; uptime?: number; queue_dropped?: number; queue_depth?: number }
  try {
    const doc = decode(ing, msg)
    if (!checkStatus.Check(doc)) {
      const e = [...checkStatus.Errors(doc)].find((x) => x.keyword !== 'boolean')
      throw new Refused(
        'invalid_payload',
        `payload${e?.instancePath ?? ''} ${e?.message ?? 'is not a status'}: a status is {"online": true|false, "ts", "fw"?, "uptime"?}`,
      )
    }
    const s = doc as DeviceStatus
    const ts = s.ts === undefined ? msg.receivedAt : parseTs(s.ts, 'payload/ts')
    ev = { device: msg.device.id, online: s.online, ts }
    if (s.fw !== undefined) ev.fw = s.fw
    if (s.uptime !== undefined && Number.isFinite(s.uptime)) ev.uptime = s.uptime
    if (s.queue_dropped !== undefined) ev.queue_dropped = s.queue_dropped
    if (s.queue_depth !== undefined) ev.queue_depth = s.queue_depth
  } catch (err) {
    if (err instanceof Refused) refuse(ing, msg, err.reason, err.message)
    else {
      ing.log.error({ err, device: msg.device.id }, 'status handling failed')
      refuse(ing, msg, 'internal', 'the gateway could not handle this message; see the gateway log')
    }
    return
  }
  await ing.deps.store.write([statusPoint(msg.device, ev)])
  try {
    ing.deps.bus.emit('device-status', { device: ev.device, online: ev.online, ts: ev.ts, fw: ev.fw, uptime: ev.uptime })
  } catch (err) {
    ing.log.error({ err, device: ev.device }, 'device-status consumer failed')
  }
}
