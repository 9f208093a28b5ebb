// aedes' in-memory persistence with a bound on each client's outgoing queue. That queue holds, per
// persistent session (clean session 0, MQTT 3.1.1 clause 3.1.2.4), the QoS 1 messages it has not
// acknowledged: those sent and waiting for PUBACK, and everything published while it was offline.
// The stock memory persistence never bounds it, so one integration subscribed to
// `devices/+/telemetry` that goes away for a weekend would hold every reading of the province in
// the gateway's heap. As mosquitto's `max_queued_messages` does, each queue is capped; past the cap
// the oldest message is dropped (the newest alert or reading is worth more than the oldest) and
// counted. Subscriptions are stored by the stock code too, but only those granted (`storable`).
// Everything else (retained, wills, QoS 2 incoming) is the stock code.
//
// The outgoing methods re-implement the stock ones (aedes-persistence asyncPersistence.js, whose
// queue is a private field a subclass cannot reach), with the same matching rules.
import type { Client } from 'aedes'
import { createRequire } from 'node:module'
import { Readable } from 'node:stream'
import { storeGrantedOnly } from './granted-subscriptions.ts'

const require = createRequire(import.meta.url)

/** The parts of aedes' packet the queue reads and writes. */
interface QueuedPacket {
  brokerId?: string
  brokerCounter?: number
  messageId?: number
  topic?: string
}

interface MemoryPersistenceBase {
  outgoingEnqueue(sub: { clientId: string }, packet: QueuedPacket): Promise<void>
  outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: QueuedPacket): Promise<void>
  outgoingUpdate(client: Pick<Client, 'id'>, packet: QueuedPacket): Promise<void>
  outgoingClearMessageId(client: Pick<Client, 'id'>, packet: QueuedPacket): Promise<QueuedPacket | undefined>
  outgoingStream(client: Pick<Client, 'id'>): Readable
  addSubscriptions(client: Pick<Client, 'id'>, subs: object[]): Promise<void>
}

const MemoryPersistence = require('aedes-persistence/asyncPersistence.js') as new (opts?: object) => MemoryPersistenceBase
const { CallBackPersistence } = require('aedes-persistence/callBackPersistence.js') as {
  CallBackPersistence: new (factory: (opts: object) => MemoryPersistenceBase, opts?: object) => object
}
const Packet = require('aedes-packet') as new (original: QueuedPacket) => QueuedPacket

export interface OfflineQueueOptions {
  /** Messages kept per client at most (sent and unacknowledged, or waiting while offline). */
  maxQueued: number
  /** Called for each message dropped to keep a queue within the bound. */
  onDrop: (clientId: string, packet: QueuedPacket) => void
  /**
   * Whether one entry of a SUBSCRIBE may be stored with a persistent session. aedes hands the
   * whole packet to the persistence for each granted filter (lib/handlers/subscribe.js
   * storeSubscriptions), refused filters included, and would then queue messages matching a
   * refused filter for the session while it is away. Default: everything.
   */
  storable?: ((sub: object) => boolean) | undefined
}

class BoundedMemoryPersistence extends MemoryPersistence {
  private readonly outgoing = new Map<string, QueuedPacket[]>()
  private readonly storeGranted: ReturnType<typeof storeGrantedOnly>

  constructor(private readonly bound: OfflineQueueOptions) {
    super()
    this.storeGranted = storeGrantedOnly(bound.storable)
  }

  private enqueue(clientId: string, packet: QueuedPacket): void {
    let queue = this.outgoing.get(clientId)
    if (!queue) this.outgoing.set(clientId, (queue = []))
    if (queue.length >= this.bound.maxQueued) this.bound.onDrop(clientId, queue.shift()!)
    queue.push(new Packet(packet))
  }

  override async outgoingEnqueue(sub: { clientId: string }, packet: QueuedPacket): Promise<void> {
    this.enqueue(sub.clientId, packet)
  }

  override async outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: QueuedPacket): Promise<void> {
    for (const sub of subs) this.enqueue(sub.clientId, packet)
  }

  override async outgoingUpdate(client: Pick<Client, 'id'>, packet: QueuedPacket): Promise<void> {
    const queue = this.outgoing.get(client.id) ?? []
    for (let i = 0; i < queue.length; i++) {
      const q = queue[i]!
      if (q.brokerId === packet.brokerId) {
        // Same message (a message id is reused after 65535, the broker counter is not).
        if (q.brokerCounter === packet.brokerCounter) {
          q.messageId = packet.messageId
          return
        }
      } else if (q.messageId === packet.messageId) {
        queue[i] = packet
        return
      }
    }
    // Not queued any more: dropped from a full queue between being queued and being sent. The
    // stock code rejects, which aedes turns into a client error that closes the connection; here
    // the message still goes out live, it just will not be resent after a reconnect.
  }

  override async outgoingClearMessageId(client: Pick<Client, 'id'>, packet: QueuedPacket): Promise<QueuedPacket | undefined> {
    const queue = this.outgoing.get(client.id)
    if (!queue) return undefined
    const i = queue.findIndex((q) => q.messageId === packet.messageId)
    if (i < 0) return undefined
    const [cleared] = queue.splice(i, 1)
    if (queue.length === 0) this.outgoing.delete(client.id)
    return cleared
  }

  override addSubscriptions(client: Pick<Client, 'id'>, subs: object[]): Promise<void> {
    return this.storeGranted(subs, (kept) => super.addSubscriptions(client, kept))
  }

  override outgoingStream(client: Pick<Client, 'id'>): Readable {
    // A copy: the queue changes while aedes streams it to the reconnected client.
    return Readable.from([...(this.outgoing.get(client.id) ?? [])])
  }
}

/** aedes' `persistence` option: the stock memory persistence with bounded outgoing queues. */
export function boundedMemoryPersistence(opts: OfflineQueueOptions): object {
  return new CallBackPersistence(() => new BoundedMemoryPersistence(opts))
}
