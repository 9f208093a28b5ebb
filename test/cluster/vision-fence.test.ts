import { Writable } from 'node:stream'
import type pg from 'pg'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayBus, type DetectionEvent } from '../../gateway/bus/events.ts'
import { LeaseManager } from '../../gateway/cluster/leases.ts'
import { CLUSTER_MIGRATIONS, CLUSTER_MIGRATIONS_TABLE } from '../../gateway/cluster/migrations.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { migratePg } from '../../gateway/pg/migrate.ts'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { decodeForward, encodeForward } from '../../gateway/vision/camera-leases.ts'
import { createVision, type Vision } from '../../gateway/vision/index.ts'
import type { DetectionPoint } from '../../gateway/vision/pipeline.ts'
import { openPostgresDetectionLog } from '../../gateway/vision/postgres/detection-log.ts'
import { requirePostgres, startPostgres, type PgInstance } from '../support/postgres.ts'
import { requireRedis, startRedis, type RedisServer } from '../support/redis.ts'
import { waitFor } from '../support/services.ts'
import { camera, publish, sample, visionConfig } from '../vision/support.ts'
import { metricValue } from '../support/metrics.ts'

// The fencing of camera leases (docs/operations.md "Cameras across nodes"): a node that still
// believes it holds a camera (paused, it has not run the round that would tell it otherwise)
// analyses a frame after another node took the camera over; the token check in the storing
// transaction refuses it, so nothing is stored or announced. The real detector, a real PostgreSQL
// and Redis; the takeover is made directly in cluster_leases, as a node whose lease expired would see it.

const CAM = 'cam-fence-01'
const LEASE = `camera:${CAM}`
const logger = pino({ level: 'silent' })

describe.skipIf(!requirePostgres() || !requireRedis())('camera lease fencing', () => {
  let pgi: PgInstance
  let redis: RedisServer
  let pool: pg.Pool
  let a: LeaseManager
  let b: LeaseManager
  let vision: Vision
  const points: DetectionPoint[] = []
  const events: DetectionEvent[] = []
  const logs: string[] = []
  const metrics = new Metrics({ defaults: false })
  const counter = (name: string, labels: Record<string, string> = {}) => metricValue(metrics, name, labels)
  const frame = (ts: number) => vision.frames(publish(camera(CAM), sample('coco_000000001584.jpg'), `frames/${ts}`))
  const stored = async (ts: number) => (await vision.detections(CAM, ts, ts + 1, 10)).items.length

  beforeAll(async () => {
    pgi = await startPostgres()
    redis = await startRedis()
    pool = openPgPool(await pgi.createDatabase(), { logger, applicationName: 'fence-test', max: 4 })
    await migratePg(pool, CLUSTER_MIGRATIONS, CLUSTER_MIGRATIONS_TABLE)
    // No rounds (start() is never called): node A takes leases only when told to, and never
    // finds out on its own that it lost one, as a paused process would not.
    const manager = (nodeId: string) => new LeaseManager({ pool, nodeId, logger, ttlMs: 60_000, livePeerCount: async () => 1 })
    a = manager('node-a')
    b = manager('node-b')
    const bus = new GatewayBus()
    bus.on('detection', (e) => events.push(e))
    vision = createVision({
      sink: async (p) => void points.push(...p),
      bus,
      logger: createLogger('info', new Writable({ write: (c, _e, cb) => (logs.push(String(c)), cb()) })),
      metrics,
      config: visionConfig({ workers: 1, threadsPerWorker: 1, motion: { enabled: false } }),
      dataDir: ':memory:',
      // The detection log of cluster mode: its record is written in the fencing transaction, or not at all.
      log: await openPostgresDetectionLog(pool, { nodeId: 'node-a' }),
      cluster: { leases: a, pool, redisUrl: redis.url, nodeId: 'node-a', listCameras: async () => [CAM] },
    })
  }, 120_000)
  afterAll(async () => {
    await vision?.close()
    await a?.close({ release: false })
    await b?.close({ release: false })
    await pool?.end()
    await redis?.stop()
    await pgi?.stop()
  })

  it('stores a frame under the current token and refuses one under a token taken over', async () => {
    // A's round claims the camera (the vision module has put it in the `camera` group).
    await waitFor(async () => {
      await a.tick()
      return a.token(LEASE) !== undefined
    }, 30_000)
    const oldToken = a.token(LEASE)!
    await waitFor(async () => (await counter('vision_cameras_leased')) === 1, 30_000)

    const t1 = Date.now() - 10_000
    await frame(t1)
    await waitFor(async () => (await stored(t1)) === 1, 120_000, 100)
    expect(points.filter((p) => p.ts === t1).length).toBeGreaterThan(0)
    expect(events.filter((e) => e.ts === t1).length).toBeGreaterThan(0)

    // B takes the camera over (A's lease expired while A was paused).
    await pool.query(`UPDATE cluster_leases SET expires_at = now() WHERE name = $1`, [LEASE])
    const newToken = await b.acquire(LEASE)
    expect(newToken).toBeGreaterThan(oldToken)
    // A has not noticed: it still counts on its old token and analyses the next frame under it.
    expect(a.token(LEASE)).toBe(oldToken)

    const t2 = t1 + 1000
    await frame(t2)
    await waitFor(async () => (await counter('vision_frames_total', { outcome: 'lease_lost' })) === 1, 120_000, 100)
    await vision.pipeline.settled()
    expect(await stored(t2)).toBe(0)
    expect(points.filter((p) => p.ts === t2)).toEqual([])
    expect(events.filter((e) => e.ts === t2)).toEqual([])
    expect(await counter('vision_frames_total', { outcome: 'analysed' })).toBe(1)
    expect(logs.join('')).toContain('camera taken over during analysis, detections not stored')
  }, 300_000)

  it('a lease past its local deadline gives no token, even before a round has dropped it', async () => {
    // A process resumed after a pause may handle a forwarded frame before the round that drops the lease.
    const c = new LeaseManager({ pool, nodeId: 'node-c', logger, ttlMs: 1000, livePeerCount: async () => 1 })
    try {
      const token = await c.acquire('camera:cam-fence-02')
      expect(token).not.toBeNull()
      expect(c.token('camera:cam-fence-02')).toBe(token)
      await new Promise((r) => setTimeout(r, 1200))
      expect(c.heldLeases().has('camera:cam-fence-02')).toBe(true)
      expect(c.token('camera:cam-fence-02')).toBeUndefined()
    } finally {
      await c.close({ release: false })
    }
  })

  it('a camera coming online starts the workers only on the node holding its lease', async () => {
    const d = new LeaseManager({ pool, nodeId: 'node-d', logger, ttlMs: 60_000, livePeerCount: async () => 1 })
    const bus = new GatewayBus()
    const v = createVision({
      sink: async () => undefined,
      bus,
      logger,
      metrics: new Metrics({ defaults: false }),
      config: visionConfig({ workers: 1, threadsPerWorker: 1 }),
      dataDir: ':memory:',
      deviceKind: async () => 'camera',
      cluster: { leases: d, pool, redisUrl: redis.url, nodeId: 'node-d', listCameras: async () => ['cam-held', 'cam-elsewhere'] },
    })
    try {
      expect(await d.acquire('camera:cam-held')).not.toBeNull()
      // Another node analyses this one: loading the models here would be for nothing.
      bus.emit('device-status', { device: 'cam-elsewhere', online: true, ts: Date.now() })
      await new Promise((r) => setTimeout(r, 300))
      expect(v.state()).toBe('idle')
      bus.emit('device-status', { device: 'cam-held', online: true, ts: Date.now() })
      await waitFor(() => v.state() !== 'idle', 10_000)
      await v.whenReady()
    } finally {
      await v.close()
      await d.close({ release: false })
    }
  }, 120_000)

  it('a forwarded frame keeps its camera, capture time and bytes; a malformed one says why', () => {
    const jpeg = sample('coco_000000001584.jpg')
    const f = { camera: CAM, station: 'kim-long', district: null, ts: 1_700_000_000_123, jpeg }
    const back = decodeForward(encodeForward(f))
    expect(back).toEqual(f)
    expect(decodeForward(Buffer.from([0, 0]))).toBe('shorter than its length prefix')
    expect(decodeForward(Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from('{}')]))).toMatch(/^header \/: /)
    expect(decodeForward(Buffer.from([0, 0, 1, 0, 1]))).toMatch(/past the message/)
  })
})
