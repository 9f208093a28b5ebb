// Closing a node's broker in cluster mode with work still on its way to Redis, and with Redis
// gone (docs/operations.md "MQTT across nodes": Redis unreachable never stops a node). A Redis
// command that fails at that moment must reach whoever waits for it, never become an unhandled
// rejection: Node stops the process on one, so a node would crash instead of shutting down.
import { Redis } from 'ioredis'
import mqtt, { type MqttClient } from 'mqtt'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { withHandledCommands } from '../../gateway/broker/redis-queue.ts'
import { startBroker, type Harness } from './harness.ts'
import { requireRedis, startRedis, type RedisServer } from '../support/redis.ts'
import { waitFor } from '../support/services.ts'

const DEVICES = 12

describe.skipIf(!requireRedis())('closing a cluster-mode broker', () => {
  let redis: RedisServer
  let broker: Harness | undefined
  const clients: MqttClient[] = []
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason)

  beforeEach(async () => {
    unhandled.length = 0
    process.on('unhandledRejection', onUnhandled)
    redis = await startRedis()
  })
  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true)
    await broker?.stop().catch(() => undefined)
    broker = undefined
    await redis.stop()
    process.off('unhandledRejection', onUnhandled)
  })

  /** Rejections surface after the microtasks of the event that caused them: let them come. */
  const settle = () => new Promise((r) => setTimeout(r, 500))

  const connect = async (url: string, opts: mqtt.IClientOptions) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, ...opts })
    clients.push(c)
    await new Promise((resolve, reject) => {
      c.once('connect', resolve)
      c.once('error', reject)
    })
    return c
  }

  /**
   * A node with a persistent subscriber and DEVICES devices, each with a will (closing the broker
   * publishes them and deletes them from Redis), publishing QoS 1 into the subscriber's queue.
   */
  async function busyNode(): Promise<Harness> {
    const h = await startBroker({ cluster: { redisUrl: redis.url, nodeId: 'node-close', heartbeatMs: 200 } })
    broker = h
    const token = await h.addTokenWithId('officer')
    await (
      await connect(h.url, { username: 'token', password: token.secret, clientId: `${token.id}:q`, clean: false })
    ).subscribeAsync('devices/+/telemetry', { qos: 1 })
    for (let i = 0; i < DEVICES; i++) {
      const id = `close-dev-${i}`
      const secret = await h.addDevice(id)
      const status = `devices/${id}/status`
      const dev = await connect(h.url, {
        username: id,
        password: secret,
        clientId: id,
        will: { topic: status, payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
      })
      for (let seq = 0; seq < 5; seq++)
        dev.publish(`devices/${id}/telemetry`, JSON.stringify({ seq, values: { water_level: 1 } }), { qos: 1 })
    }
    return h
  }

  it('the stock persistence’s unawaited commands do not reject unhandled when the connection closes under them', async () => {
    const conn = new Redis(redis.url)
    await waitFor(() => conn.status === 'ready', 10_000)
    const wrapped = withHandledCommands(conn)
    // Sent while the connection is closing (as at shutdown), one without waiting for it as
    // aedes-persistence-redis' delWill sends its LREM, one waited for.
    conn.disconnect()
    void wrapped.lrem('will', 0, 'will:node:x')
    const waited = wrapped.get('some-key')
    await expect(waited).rejects.toThrow(/Connection is closed/)
    await settle()
    expect(unhandled).toEqual([])
  })

  it('closes while wills and queued messages are still on their way to Redis, nothing rejected unhandled', async () => {
    const h = await busyNode()
    await h.stop()
    broker = undefined
    await settle()
    expect(unhandled).toEqual([])
  })

  it('closes in bounded time with Redis killed, nothing rejected unhandled', async () => {
    const h = await busyNode()
    await redis.kill()
    await waitFor(() => h.broker.redisUp() === false, 10_000)
    // Before: the unsubscriptions and wills of the closing clients waited in ioredis for a Redis
    // that never came back, and so did the QUIT of each connection: close never returned.
    await h.stop()
    broker = undefined
    await settle()
    expect(unhandled).toEqual([])
  }, 60_000)
})
