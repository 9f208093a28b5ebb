import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import Type from 'typebox'
import Value from 'typebox/value'
import { connectPubSub } from '../cluster/redis-pubsub.ts'
import { decodeFramed, encodeFramed } from './framed.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics/registry.ts'

// A camera's snapshot (its latest analysed frame, drawn) exists only in the memory of the node
// holding the camera's lease (camera-leases.ts): a request reaching another node through HAProxy
// asks the holder over Redis (docs/operations.md "Cameras across nodes"). Every node listens on
// `iocgw:vision:snapshot:{camera}` (one pattern subscription) and only the holder answers, on the
// asking node's own reply channel. Like the forwarded frames, the channels are outside the MQTT
// topic space. Frames are not copied to Redis as they are analysed: 100 cameras at one frame per
// 5 s would put 4 MB/s through Redis for snapshots that are asked for now and then.

const REQUEST_PREFIX = 'iocgw:vision:snapshot:'
const REPLY_PREFIX = 'iocgw:vision:snapshot-reply:'
/** How long the asking node waits for the holder; a takeover in progress answers nothing. */
const DEFAULT_TIMEOUT_MS = 3_000

const Request = Type.Object({ id: Type.String({ minLength: 1 }), replyTo: Type.String({ minLength: 1 }) }, { additionalProperties: false })
/** The header of a reply; the JPEG follows it (none when the holder has no analysed frame yet). */
const ReplyHeader = Type.Object({ id: Type.String({ minLength: 1 }), found: Type.Boolean() }, { additionalProperties: false })

export interface SnapshotRelayOptions {
  redisUrl: string
  nodeId: string
  /** Whether this node analyses the camera now (holds its lease). */
  holds: (camera: string) => boolean
  /** This node's drawn snapshot of a camera it analyses, or null before its first analysed frame. */
  local: (camera: string) => Promise<Buffer | null>
  logger: Logger
  metrics: Metrics
  timeoutMs?: number
}

export class SnapshotRelay {
  private readonly pub: Redis
  private readonly sub: Redis
  private readonly replyTo: string
  private readonly waiting = new Map<string, (jpeg: Buffer | null) => void>()
  /** Resolves once both subscriptions are confirmed: a request sent before could miss its reply. */
  private readonly subscribed: Promise<unknown>
  private closed = false
  private readonly m

  constructor(private readonly o: SnapshotRelayOptions) {
    this.m = {
      asked: o.metrics.counter(
        'vision_snapshots_relayed_total',
        'Cluster mode: snapshots asked of the node analysing the camera, by outcome (served, none, no_answer)',
        ['outcome'],
      ),
    }
    // One reply channel per run of the node: a reply meant for a previous run finds no one.
    this.replyTo = `${REPLY_PREFIX}${o.nodeId}:${randomUUID()}`
    this.pub = connectPubSub({ ...this.conn(), role: 'snapshots-pub', use: 'publish' })
    this.sub = connectPubSub({ ...this.conn(), role: 'snapshots-sub', use: 'subscribe' })
    this.sub.on('pmessageBuffer', (_pattern: Buffer, channel: Buffer, message: Buffer) => void this.answer(channel.toString(), message))
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onReply(channel.toString(), message))
    this.subscribed = Promise.all([this.sub.psubscribe(`${REQUEST_PREFIX}*`), this.sub.subscribe(this.replyTo)]).catch((err: Error) =>
      o.logger.warn({ err: { message: err.message } }, 'vision: subscribing to snapshot requests failed'),
    )
  }

  /**
   * The camera's snapshot from the node analysing it: this node's own when it holds the camera,
   * else the holder's; null when no node answers within the timeout (none holds the camera, or a
   * takeover is under way) or the holder has no analysed frame yet.
   */
  async snapshot(camera: string): Promise<Buffer | null> {
    if (this.o.holds(camera)) return this.o.local(camera)
    await this.subscribed
    const id = randomUUID()
    const answered = new Promise<Buffer | null | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id)
        resolve(undefined)
      }, this.o.timeoutMs ?? DEFAULT_TIMEOUT_MS)
      timer.unref()
      this.waiting.set(id, (jpeg) => {
        clearTimeout(timer)
        this.waiting.delete(id)
        resolve(jpeg)
      })
    })
    try {
      await this.pub.publish(REQUEST_PREFIX + camera, JSON.stringify({ id, replyTo: this.replyTo }))
    } catch (err) {
      this.waiting.get(id)?.(null)
      this.m.asked.inc({ outcome: 'no_answer' })
      this.o.logger.warn({ camera, err: { message: (err as Error).message } }, 'vision: snapshot not asked of its node, Redis failed')
      return null
    }
    const jpeg = await answered
    this.m.asked.inc({ outcome: jpeg === undefined ? 'no_answer' : jpeg === null ? 'none' : 'served' })
    return jpeg ?? null
  }

  /** Resolves once this node hears requests and replies; one asked before may go unanswered. */
  async ready(): Promise<void> {
    await this.subscribed
  }

  async close(): Promise<void> {
    this.closed = true
    for (const resolve of this.waiting.values()) resolve(null)
    for (const r of [this.sub, this.pub]) {
      if (r.status === 'end') continue
      await r.quit().catch(() => r.disconnect())
    }
  }

  private conn() {
    const { redisUrl: url, nodeId, logger } = this.o
    return { url, nodeId, component: 'vision', logger, closing: () => this.closed }
  }

  /** A request for a camera: answered by its holder alone. */
  private async answer(channel: string, message: Buffer): Promise<void> {
    const camera = channel.slice(REQUEST_PREFIX.length)
    if (!this.o.holds(camera)) return
    let req: unknown
    try {
      req = JSON.parse(message.toString('utf8'))
    } catch {
      req = undefined
    }
    if (!Value.Check(Request, req) || !req.replyTo.startsWith(REPLY_PREFIX)) {
      this.o.logger.warn({ channel }, 'vision: snapshot request unreadable')
      return
    }
    // A drawing that fails (the frame will not decode again) is answered as none at once, as this
    // node answers it locally, rather than left to the asking node's timeout.
    const jpeg = await this.o.local(camera).catch((err: unknown) => {
      this.o.logger.warn({ camera, err: { message: (err as Error).message } }, 'vision: snapshot could not be drawn')
      return null
    })
    try {
      await this.pub.publish(req.replyTo, encodeFramed({ id: req.id, found: jpeg !== null }, jpeg ?? Buffer.alloc(0)))
    } catch (err) {
      this.o.logger.warn({ camera, err: { message: (err as Error).message } }, 'vision: snapshot not sent to the asking node')
    }
  }

  private onReply(channel: string, message: Buffer): void {
    if (channel !== this.replyTo) return
    const reply = decodeFramed(message, ReplyHeader)
    if (typeof reply === 'string') {
      this.o.logger.warn({ problem: reply }, 'vision: snapshot reply unreadable')
      return
    }
    this.waiting.get(reply.header.id)?.(reply.header.found ? reply.body : null)
  }
}
