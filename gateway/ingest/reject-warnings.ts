import type { Logger } from '../log/logger.ts'
import { BoundedMap } from '../util/lru.ts'

interface DeviceRefusals {
  /** When this device's last warning line was written (epoch ms). */
  lastLineAt: number
  /** Refused since that line. */
  pending: number
  reason: string
  topic: string
}

/**
 * A refused message is acknowledged (resending it cannot help), so without a log line a device
 * that sends nothing usable looks healthy from its side and silent from ours. One warning per
 * device at most every `intervalMs`: the first refusal is written at once, later ones are counted
 * and written as one line when the interval ends, with the count and the last reason. The line
 * never holds the payload nor the refusal's message (both can echo what the device sent, secrets
 * included); `iocgw device rejects <id>` and GET /devices/:id/rejects show those to technicians.
 */
export class RejectWarnings {
  private readonly devices = new BoundedMap<string, DeviceRefusals>(10_000)
  /** Devices with refusals not yet written. */
  private readonly waiting = new Set<string>()
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  note(device: string, reason: string, topic: string): void {
    const t = this.now()
    const d = this.devices.get(device)
    if (d === undefined || t - d.lastLineAt >= this.intervalMs) {
      const refused = (d?.pending ?? 0) + 1
      this.write(device, refused, reason, topic)
      this.devices.set(device, { lastLineAt: t, pending: 0, reason, topic })
      this.waiting.delete(device)
      return
    }
    d.pending++
    d.reason = reason
    d.topic = topic
    this.waiting.add(device)
    // One timer for all devices, only while some refusals wait to be written.
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.flush(), Math.max(10, Math.floor(this.intervalMs / 4)))
      this.timer.unref()
    }
  }

  /** Writes the waiting counts whose interval has ended. */
  flush(): void {
    const t = this.now()
    for (const device of this.waiting) {
      const d = this.devices.get(device)
      if (d === undefined || d.pending === 0) {
        this.waiting.delete(device)
        continue
      }
      if (t - d.lastLineAt < this.intervalMs) continue
      this.write(device, d.pending, d.reason, d.topic)
      d.lastLineAt = t
      d.pending = 0
      this.waiting.delete(device)
    }
    if (this.waiting.size === 0) this.stop()
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  private write(device: string, refused: number, reason: string, topic: string): void {
    this.log.warn(
      { device, refused, reason, topic, everyS: this.intervalMs / 1000 },
      `device ${device}: ${refused} message${refused === 1 ? '' : 's'} refused (last: ${reason}); see iocgw device rejects ${device}`,
    )
  }
}
