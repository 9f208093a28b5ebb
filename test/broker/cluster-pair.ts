// Two brokers in cluster mode on one real redis-server (docs/operations.md "MQTT across nodes"),
// for the calling suite. Each broker has its own registry directory holding the same devices and
// token: the first one's directory is copied for the second once they are added.
import { cpSync } from 'node:fs'
import { Redis } from 'ioredis'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, expect } from 'vitest'
import { startBroker, type Harness, type HarnessOptions } from './harness.ts'
import { startRedis, type RedisServer } from '../support/redis.ts'
import { tempDir } from '../support/services.ts'

export interface BrokerPair {
  readonly redis: RedisServer
  /** node-a: the devices and the token were added here. */
  readonly a: Harness
  /** node-b, on a copy of node-a's registry directory. */
  readonly b: Harness
  /** The secret of each device, by id. */
  readonly secrets: Readonly<Record<string, string>>
  /** An officer token and its id. */
  readonly token: { id: string; secret: string }
  /** Clients of the suite: ended after its tests, before the brokers stop. */
  readonly clients: MqttClient[]
}

export interface BrokerPairOptions {
  devices: string[]
  heartbeatMs: number
  /** Broker limits, the same on both nodes. */
  limits?: Pick<HarnessOptions, 'maxQueuedMessages' | 'maxPersistentSessionsPerIdentity'>
}

/** Starts the pair before the suite's tests (Redis, node-a with `devices` and a token, node-b) and stops it after them. */
export function useBrokerPair({ devices, heartbeatMs, limits = {} }: BrokerPairOptions): BrokerPair {
  const dirB = tempDir()
  let redis: RedisServer | undefined
  let a: Harness | undefined
  let b: Harness | undefined
  const secrets: Record<string, string> = {}
  let token: BrokerPair['token'] | undefined
  const clients: MqttClient[] = []
  const started = <T>(what: string, v: T | undefined): T => {
    if (v === undefined) throw new Error(`useBrokerPair: ${what} is not started (read it in tests or later hooks)`)
    return v
  }

  beforeAll(async () => {
    redis = await startRedis()
    a = await startBroker({ ...limits, cluster: { redisUrl: redis.url, nodeId: 'node-a', heartbeatMs } })
    for (const id of devices) secrets[id] = await a.addDevice(id)
    token = await a.addTokenWithId('officer')
    cpSync(a.dataDir, dirB.path, { recursive: true })
    b = await startBroker({ ...limits, dataDir: dirB.path, cluster: { redisUrl: redis.url, nodeId: 'node-b', heartbeatMs } })
  }, 60_000)

  afterAll(async () => {
    for (const c of clients) c.end(true)
    await a?.stop()
    await b?.stop()
    await redis?.stop()
    dirB.remove()
  }, 30_000)

  return {
    get redis() {
      return started('redis', redis)
    },
    get a() {
      return started('node-a', a)
    },
    get b() {
      return started('node-b', b)
    },
    secrets,
    get token() {
      return started('the token', token)
    },
    clients,
  }
}

/** Drops a node's Redis subscriber connection (CLIENT KILL); ioredis connects it again 200 ms later. */
export async function dropSubscriber(redisUrl: string, nodeId: string): Promise<void> {
  const r = new Redis(redisUrl)
  try {
    const list = String(await r.client('LIST'))
    const id = new RegExp(`id=(\\d+) [^\\n]*name=iocgw:${nodeId}:subscriber`).exec(list)?.[1]
    expect(id, `${nodeId} has a subscriber connection`).toBeDefined()
    await r.client('KILL', 'ID', id!)
  } finally {
    r.disconnect()
  }
}
