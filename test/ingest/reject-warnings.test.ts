import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { GatewayBus } from '../../gateway/bus/events.ts'
import { createIngest } from '../../gateway/ingest/ingest.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { waitFor } from '../support/services.ts'
import { device, MemorySink, publish } from './helpers.ts'

// Refused telemetry is acknowledged (docs/mqtt.md, "Acknowledgement"), so the log must say so:
// one warning per device at most every interval, with the count and the last reason, never the
// payload.

interface Line {
  level: number
  msg: string
  device?: string
  refused?: number
  reason?: string
  topic?: string
}

function capture(): { logger: ReturnType<typeof createLogger>; lines: Line[]; text: () => string } {
  let text = ''
  const lines: Line[] = []
  const dest = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString()
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Line)
      done()
    },
  })
  return { logger: createLogger('info', dest), lines, text: () => text }
}

/** Ingest on a memory store writing its log to `capture()`; refusal warnings every `rejectWarnEveryMs` (its default when absent). */
function loggedIngest(rejectWarnEveryMs?: number) {
  const log = capture()
  const ingest = createIngest({
    store: new MemorySink(),
    bus: new GatewayBus(),
    logger: log.logger,
    metrics: new Metrics({ defaults: false }),
    rejectWarnEveryMs,
  })
  return { log, ingest }
}

const WARN = 40
// Long enough that the burst below fits in one interval even on a loaded machine.
const EVERY = 3000

describe('refused telemetry in the log', () => {
  it('warns at the first refusal of a device, then at most once per interval with the count and the last reason', async () => {
    const { log, ingest } = loggedIngest(EVERY)
    const a = device('warn-a-01', 'water_level', 'kim-long')
    const b = device('warn-b-01', 'water_level', 'kim-long')
    const warnings = () => log.lines.filter((l) => l.level === WARN && l.device !== undefined)
    // A payload holding something secret-looking: the log must never carry it.
    await ingest.telemetry(publish(a, '{"values": {"water_level": 1}, "password": "hunter2-s3cret"', { raw: true }))
    for (let i = 0; i < 3; i++) await ingest.telemetry(publish(a, '{"pw": "hunter2-s3cret"', { raw: true }))
    await ingest.telemetry(publish(a, { values: { water_level: 9999 } }))
    await ingest.telemetry(publish(b, { values: { rainfall: 1 } }))
    await ingest.telemetry(publish(a, { ts: Date.now(), seq: 1, values: { water_level: 1.2 } })) // accepted: no line
    expect(warnings()).toEqual([
      expect.objectContaining({ device: 'warn-a-01', refused: 1, reason: 'invalid_json', topic: 'devices/warn-a-01/telemetry' }),
      expect.objectContaining({ device: 'warn-b-01', refused: 1, reason: 'metric_not_for_kind' }),
    ])
    expect(warnings()[0]!.msg).toMatch(/warn-a-01: 1 message refused \(last: invalid_json\); see iocgw device rejects warn-a-01/)
    // The four held back come out together once the interval has passed, even with no new refusal.
    const second = await waitFor(() => warnings()[2], 10_000)
    expect(second).toMatchObject({ device: 'warn-a-01', refused: 4, reason: 'out_of_range' })
    await new Promise((r) => setTimeout(r, EVERY + 200))
    expect(warnings()).toHaveLength(3)
    // A refusal after a quiet interval is written at once again.
    await ingest.telemetry(publish(a, '[]', { raw: true }))
    expect(warnings()).toHaveLength(4)
    expect(warnings()[3]).toMatchObject({ device: 'warn-a-01', refused: 1, reason: 'invalid_payload' })
    expect(log.text()).not.toContain('hunter2')
    // The records themselves keep what a technician needs, for GET /devices/:id/rejects.
    expect(ingest.recentRejects('warn-a-01')).toHaveLength(6)
  }, 30_000)

  it('keeps a frame refused elsewhere with the device refusals and counts it in the warning', async () => {
    const { log, ingest } = loggedIngest()
    const cam = device('warn-cam-01', 'camera')
    ingest.recordRefusal(publish(cam, Buffer.from('GIF89a'), { subtopic: 'frames' }), 'not_jpeg', 'the payload is not a JPEG')
    expect(ingest.recentRejects('warn-cam-01')).toEqual([
      expect.objectContaining({
        topic: 'devices/warn-cam-01/frames',
        reason: 'not_jpeg',
        message: 'the payload is not a JPEG',
        excerpt: 'GIF89a',
      }),
    ])
    expect(log.lines.filter((l) => l.level === WARN)).toEqual([
      expect.objectContaining({ device: 'warn-cam-01', refused: 1, reason: 'not_jpeg' }),
    ])
  })
})
