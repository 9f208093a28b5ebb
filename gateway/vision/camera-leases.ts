import type { Redis } from 'ioredis'
import type pg from 'pg'
import Type from 'typebox'
import { fenceCheck, type LeaseManager } from '../cluster/leases.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { DeviceRegistry } from '../registry/types.ts'
import type { CameraVisionConfig } from './config.ts'
import type { DetectionSql } from './detection-log.ts'
import { FRAMES_HELP, type Frame, type FrameLease } from './pipeline.ts'
import { inTransaction } from '../pg/transaction.ts'
import { connectPubSub } from '../cluster/redis-pubsub.ts'
import { decodeFramed, encodeFramed } from './framed.ts'

// Cameras across nodes (docs/operations.md "Several nodes", "Cameras across nodes"): each
// registered camera has a lease `camera:{id}` in the group `camera`, balanced over the live nodes
// (gateway/cluster/leases.ts), and only its holder analyses its frames.
//
// A frame reaching a node that does not hold the camera's lease is published on the Redis channel
// `iocgw:vision:frames:{camera}`, to which only the holder subscribes (from acquiring the lease to
// losing it). The channel is outside the MQTT topic space: devices reach Redis only through the
// broker, and the broker's own pattern subscriptions (mqemitter-redis) all start with `$SYS/`,
// `alerts` or `devices/` (gateway/broker/acl.ts refuses a filter starting with a wildcard), so
// none of them matches it. Redis delivers each message once to each subscriber and says how many
// there were: none means no node holds the lease (a dead holder before takeover), and the frame is
// dropped and counted rather than kept to be analysed later. Frames are a live view.
//
// A frame carries the token of the lease it was accepted under. It is analysed only while that
// token is still this node's, and its detections are stored inside a PostgreSQL transaction that
// checks the token first (fenceCheck, FOR SHARE): a holder paused past its lease's expiry cannot
// store a frame after another node took the camera over.

export const CAMERA_LEASE_GROUP = 'camera'
const LEASE_PREFIX = `${CAMERA_LEASE_GROUP}:`
const CHANNEL_PREFIX = 'iocgw:vision:frames:'

export const cameraLeaseName = (camera: string): string => `${LEASE_PREFIX}${camera}`

/** The header of a forwarded frame (the JPEG follows it). */
const ForwardHeader = Type.Object(
  {
    camera: Type.String({ minLength: 1 }),
    station: Type.Union([Type.String(), Type.Null()]),
    district: Type.Union([Type.String(), Type.Null()]),
    ts: Type.Integer(),
  },
  { additionalProperties: false },
)

export function encodeForward(f: Frame): Buffer {
  return encodeFramed({ camera: f.camera, station: f.station, district: f.district, ts: f.ts }, f.jpeg)
}

/** The frame of a forwarded message, or why it is not one (a node of another version). */
export function decodeForward(msg: Buffer): Frame | string {
  const m = decodeFramed(msg, ForwardHeader)
  return typeof m === 'string' ? m : { ...m.header, jpeg: m.body }
}

export type CameraLeaseManager = Pick<LeaseManager, 'balance' | 'token' | 'release' | 'heldLeases' | 'on' | 'off' | 'renewMs'>

export interface CameraLeasesOptions {
  leases: CameraLeaseManager
  /** The cluster's pool: the fencing check runs in its transactions. */
  pool: pg.Pool
  redisUrl: string
  nodeId: string
  /** Ids of the registered, active cameras (the lease group). */
  listCameras: () => Promise<string[]>
  /** Hands a frame this node may analyse to the pipeline. */
  submit: (frame: Frame) => void
  /** Drops what the pipeline still holds of a camera whose lease this node lost. */
  discard: (camera: string) => void
  logger: Logger
  metrics: Metrics
  /** How often the camera list is reread (default: the lease renewal period). */
  refreshMs?: number
  /**
   * The stored camera configurations with their change times, reread with the camera list: a
   * change made through another node's API reaches the node analysing the camera.
   */
  cameraConfigs?: () => Promise<StoredCameraConfig[]>
  setCameraConfig?: (camera: string, config: CameraVisionConfig) => void
}

export interface StoredCameraConfig {
  camera: string
  config: CameraVisionConfig
  updatedAt: string
}

export class CameraLeases {
  /** Cameras whose lease is held and whose channel subscription Redis has confirmed. */
  private readonly ready = new Set<string>()
  private readonly pub: Redis
  private readonly sub: Redis
  private readonly timer: NodeJS.Timeout
  private closed = false
  /** updated_at of each camera's configuration as last read; undefined before the first reading. */
  private configsSeen: Map<string, string> | undefined
  private refreshing = false
  private readonly m

  constructor(private readonly o: CameraLeasesOptions) {
    const m = o.metrics
    this.m = {
      frames: m.counter('vision_frames_total', FRAMES_HELP, ['outcome']),
      forwarded: m.counter('vision_frames_forwarded_total', "Camera frames sent to the node holding the camera's lease"),
    }
    m.gaugeReading('vision_cameras_leased', 'Cluster mode: cameras this node holds the lease of and analyses now', () => this.ready.size)
    this.pub = this.connect('frames-pub', 'publish')
    this.sub = this.connect('frames-sub', 'subscribe')
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onForwarded(channel.toString(), message))
    o.leases.on('acquired', this.onAcquired)
    o.leases.on('lost', this.onLost)
    // Leases taken before this module existed (none today: vision starts before the first round
    // that balances the group) would otherwise have no subscription.
    for (const [name] of o.leases.heldLeases()) this.onAcquired(name)
    this.timer = setInterval(() => this.refreshOnce(), o.refreshMs ?? o.leases.renewMs)
    this.timer.unref()
    this.refreshOnce()
  }

  /** The frames route in cluster mode: analysed here under this node's lease, or sent to the holder. */
  async route(frame: Frame): Promise<void> {
    const name = cameraLeaseName(frame.camera)
    const token = this.o.leases.token(name)
    if (token !== undefined) {
      this.o.submit({ ...frame, lease: { name, token } })
      return
    }
    let receivers: number
    try {
      receivers = await this.pub.publish(CHANNEL_PREFIX + frame.camera, encodeForward(frame))
    } catch (err) {
      // Redis unreachable: the frame is lost like any frame during an outage (it is a live view).
      this.m.frames.inc({ outcome: 'no_holder' })
      this.o.logger.warn({ camera: frame.camera, err: { message: (err as Error).message } }, 'vision: frame not forwarded, Redis failed')
      return
    }
    if (receivers > 0) this.m.forwarded.inc()
    else this.m.frames.inc({ outcome: 'no_holder' })
  }

  /** Whether this node holds the camera's lease now (it analyses the camera's frames). */
  holds(camera: string): boolean {
    return this.o.leases.token(cameraLeaseName(camera)) !== undefined
  }

  /** Whether the frame's lease is still this node's with the same token (checked before analysis). */
  held(lease: FrameLease): boolean {
    return this.o.leases.token(lease.name) === lease.token
  }

  /**
   * Runs `write` in a PostgreSQL transaction that first checks the lease's fencing token; false
   * (and nothing written) when another node took the camera over meanwhile.
   */
  fenced(lease: FrameLease, write: (sql: DetectionSql) => Promise<void>): Promise<boolean> {
    return inTransaction(this.o.pool, async (client) => {
      if (!(await fenceCheck(client, lease.name, lease.token))) return false
      // FOR SHARE holds the lease row until COMMIT: a takeover waits for this write to finish.
      await write(client)
      return true
    })
  }

  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    this.o.leases.off('acquired', this.onAcquired)
    this.o.leases.off('lost', this.onLost)
    this.ready.clear()
    for (const r of [this.sub, this.pub]) {
      if (r.status === 'end') continue
      await r.quit().catch(() => r.disconnect())
    }
  }

  private connect(role: string, use: 'publish' | 'subscribe'): Redis {
    const { redisUrl: url, nodeId, logger } = this.o
    return connectPubSub({ url, nodeId, role, use, component: 'vision', logger, closing: () => this.closed })
  }

  private readonly onAcquired = (name: string): void => {
    if (!name.startsWith(LEASE_PREFIX) || this.closed) return
    const camera = name.slice(LEASE_PREFIX.length)
    this.o.logger.info({ camera, nodeId: this.o.nodeId }, 'vision: camera taken, analysed on this node')
    this.sub.subscribe(CHANNEL_PREFIX + camera).then(
      () => {
        if (this.o.leases.token(name) !== undefined && !this.closed) this.ready.add(camera)
      },
      // ioredis subscribes again by itself once Redis is back (autoResubscribe).
      (err: Error) => this.o.logger.warn({ camera, err: { message: err.message } }, 'vision: subscribing to the camera’s frames failed'),
    )
  }

  private readonly onLost = (name: string, reason: string): void => {
    if (!name.startsWith(LEASE_PREFIX)) return
    const camera = name.slice(LEASE_PREFIX.length)
    this.ready.delete(camera)
    this.o.discard(camera)
    this.o.logger[reason === 'released' || reason === 'closing' ? 'info' : 'warn'](
      { camera, reason, nodeId: this.o.nodeId },
      'vision: camera given up, no longer analysed on this node',
    )
    if (!this.closed) this.sub.unsubscribe(CHANNEL_PREFIX + camera).catch(() => undefined)
  }

  private onForwarded(channel: string, message: Buffer): void {
    if (!channel.startsWith(CHANNEL_PREFIX)) return
    const f = decodeForward(message)
    if (typeof f === 'string' || CHANNEL_PREFIX + f.camera !== channel) {
      this.m.frames.inc({ outcome: 'failed' })
      this.o.logger.warn(
        { channel, problem: typeof f === 'string' ? f : 'camera differs from the channel' },
        'vision: forwarded frame unreadable',
      )
      return
    }
    const name = cameraLeaseName(f.camera)
    const token = this.o.leases.token(name)
    // Sent while this node held the lease, arrived after it lapsed: another node may hold it now.
    if (token === undefined) this.m.frames.inc({ outcome: 'lease_lost' })
    else this.o.submit({ ...f, lease: { name, token } })
  }

  /** A reading unless the last one is still running (a slow registry). */
  private refreshOnce(): void {
    if (this.refreshing) return
    this.refreshing = true
    void this.refresh().finally(() => (this.refreshing = false))
  }

  /** Rereads the registered cameras; a camera no longer registered gives its lease back. */
  private async refresh(): Promise<void> {
    let cameras: string[]
    try {
      cameras = await this.o.listCameras()
    } catch (err) {
      // The registry unreachable: the group stays as it was (its leases lapse anyway without PostgreSQL).
      this.o.logger.warn({ err: { message: (err as Error).message } }, 'vision: camera list not reread')
      return
    }
    if (this.closed) return
    const names = cameras.map(cameraLeaseName)
    this.o.leases.balance(CAMERA_LEASE_GROUP, names)
    const keep = new Set(names)
    for (const [name] of this.o.leases.heldLeases()) {
      if (name.startsWith(LEASE_PREFIX) && !keep.has(name)) await this.o.leases.release(name)
    }
    await this.reloadConfigs().catch((err: unknown) =>
      this.o.logger.warn({ err: { message: (err as Error).message } }, 'vision: camera configurations not reread'),
    )
  }

  /** Applies the camera configurations changed since the last reading (by any node). */
  private async reloadConfigs(): Promise<void> {
    if (!this.o.cameraConfigs || !this.o.setCameraConfig) return
    const recs = await this.o.cameraConfigs()
    if (this.closed) return
    const first = this.configsSeen === undefined
    const seen = (this.configsSeen ??= new Map<string, string>())
    for (const r of recs) {
      const before = seen.get(r.camera)
      seen.set(r.camera, r.updatedAt)
      // The first reading only takes note: the pipeline started from the same records moments ago.
      if (first || before === r.updatedAt) continue
      this.o.setCameraConfig(r.camera, r.config)
      this.o.logger.info({ camera: r.camera, updatedAt: r.updatedAt }, 'vision: camera configuration changed, applied')
    }
  }
}

/** Ids of the registered, active cameras: the lease group every node balances. */
export async function activeCameraIds(registry: Pick<DeviceRegistry, 'listDevices'>): Promise<string[]> {
  const ids: string[] = []
  let cursor: string | undefined
  do {
    const page = await registry.listDevices({ kind: 'camera', state: 'active' }, { limit: 500, cursor })
    for (const d of page.items) ids.push(d.id)
    cursor = page.next ?? undefined
  } while (cursor)
  return ids
}
