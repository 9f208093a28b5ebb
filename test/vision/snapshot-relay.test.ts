// A camera's snapshot asked on a node that does not analyse it is fetched from the node that
// does, over a real redis-server (gateway/vision/snapshot-relay.ts; docs/operations.md "Cameras
// across nodes"). The cluster test (test/cluster/vision.test.ts) asks it through the API.
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { SnapshotRelay } from '../../gateway/vision/snapshot-relay.ts'
import { metricValue } from '../support/metrics.ts'
import { requireRedis, startRedis, type RedisServer } from '../support/redis.ts'

const ok = requireRedis()
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 3, 0xff, 0xd9])

describe.skipIf(!ok)('snapshots across nodes', () => {
  let redis: RedisServer
  const relays: SnapshotRelay[] = []
  const metrics = { a: new Metrics({ defaults: false }), b: new Metrics({ defaults: false }) }
  let a: SnapshotRelay
  let b: SnapshotRelay
  // Node A analyses cam-1 (with a frame), cam-2 (none analysed yet) and cam-3 (whose drawing fails); node B analyses nothing.
  const heldByA = new Set(['cam-1', 'cam-2', 'cam-3'])

  beforeAll(async () => {
    redis = await startRedis()
    const relay = (nodeId: string, m: Metrics, holds: (c: string) => boolean) => {
      const r = new SnapshotRelay({
        redisUrl: redis.url,
        nodeId,
        holds,
        local: async (camera) => {
          if (camera === 'cam-3') throw new Error('Input buffer has corrupt header')
          return camera === 'cam-1' ? JPEG : null
        },
        logger: createLogger('silent'),
        metrics: m,
        // Long enough for a loaded machine; only the no_answer case waits it out.
        timeoutMs: 2_000,
      })
      relays.push(r)
      return r
    }
    a = relay('node-a', metrics.a, (c) => heldByA.has(c))
    b = relay('node-b', metrics.b, () => false)
    // A holder that is not yet subscribed answers nothing, which would read as no_answer below.
    await Promise.all(relays.map((r) => r.ready()))
  })
  afterAll(async () => {
    for (const r of relays) await r.close()
    await redis?.stop()
  })

  it("serves, on a node that does not analyse the camera, the holder's snapshot", async () => {
    expect(await b.snapshot('cam-1')).toEqual(JPEG)
    expect(await metricValue(metrics.b, 'vision_snapshots_relayed_total', { outcome: 'served' })).toBe(1)
  })

  it('answers from its own memory for a camera it analyses, without asking', async () => {
    expect(await a.snapshot('cam-1')).toEqual(JPEG)
    expect(await metricValue(metrics.a, 'vision_snapshots_relayed_total')).toBe(0)
  })

  it('answers none when the holder has no analysed frame yet, or when no node analyses the camera', async () => {
    expect(await b.snapshot('cam-2')).toBeNull()
    expect(await metricValue(metrics.b, 'vision_snapshots_relayed_total', { outcome: 'none' })).toBe(1)
    expect(await b.snapshot('cam-9')).toBeNull()
    expect(await metricValue(metrics.b, 'vision_snapshots_relayed_total', { outcome: 'no_answer' })).toBe(1)
  })

  it('answers none, not silence, when the holder cannot draw the snapshot', async () => {
    expect(await b.snapshot('cam-3')).toBeNull()
    expect(await metricValue(metrics.b, 'vision_snapshots_relayed_total', { outcome: 'none' })).toBe(2)
    expect(await metricValue(metrics.b, 'vision_snapshots_relayed_total', { outcome: 'no_answer' })).toBe(1)
  })

  it('ignores a request it cannot read, and one whose reply channel is not a snapshot reply channel', async () => {
    const r = new Redis(redis.url)
    try {
      const spy = new Redis(redis.url)
      const seen: string[] = []
      await spy.psubscribe('*')
      spy.on('pmessage', (_p, channel) => seen.push(channel))
      await r.publish('iocgw:vision:snapshot:cam-1', 'not json')
      await r.publish('iocgw:vision:snapshot:cam-1', JSON.stringify({ id: 'x', replyTo: 'devices/cam-1/telemetry' }))
      await new Promise((res) => setTimeout(res, 300))
      spy.disconnect()
      expect(seen.filter((c) => !c.startsWith('iocgw:vision:snapshot:'))).toEqual([])
      // Still serving.
      expect(await b.snapshot('cam-1')).toEqual(JPEG)
    } finally {
      r.disconnect()
    }
  })
})
