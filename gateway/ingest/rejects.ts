import { BoundedMap } from '../util/lru.ts'

/** One refused message (or reading of a batch), kept so a technician can see why. */
export interface RejectRecord {
  /** Arrival time, ISO 8601. */
  ts: string
  topic: string
  /** A telemetry or status refusal (reasons.ts), or a camera frame's (gateway/vision/frame-check.ts). */
  reason: string
  message: string
  /** The start of the payload, printable characters only. */
  excerpt: string
}

export interface RejectLog {
  add(device: string, rec: RejectRecord): void
  /** Newest first. */
  recent(device: string): RejectRecord[]
}

/** The last `perDevice` refusals of up to `maxDevices` devices. */
export function memoryRejectLog(opts: { perDevice?: number; maxDevices?: number } = {}): RejectLog {
  const perDevice = opts.perDevice ?? 20
  const byDevice = new BoundedMap<string, RejectRecord[]>(opts.maxDevices ?? 10_000)
  return {
    add(device, rec) {
      let list = byDevice.get(device)
      if (!list) {
        list = []
        byDevice.set(device, list)
      }
      list.push(rec)
      if (list.length > perDevice) list.splice(0, list.length - perDevice)
    },
    recent: (device) => [...(byDevice.get(device) ?? [])].reverse(),
  }
}

export function excerptOf(payload: Buffer, max = 160): string {
  // Control characters are exactly what is replaced.
  // eslint-disable-next-line no-control-regex
  const unprintable = /[\u0000-\u001f\u007f\ufffd]/g
  const s = payload
    .subarray(0, max * 2)
    .toString('utf8')
    .replace(unprintable, '·')
  return s.length > max ? `${s.slice(0, max)}…` : s
}
