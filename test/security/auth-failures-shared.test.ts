// Failed authentications counted by every node together (gateway/security/auth-failures-shared.ts,
// docs/operations.md "Failed logins across nodes"): two hubs ("nodes") on one real redis-server.
import { Writable } from 'node:stream'
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { windowCounter } from '../../gateway/security/auth-failures.ts'
import { sharedAuthFailures, type SharedAuthFailures } from '../../gateway/security/auth-failures-shared.ts'
import { useCleanups } from '../support/cleanups.ts'
import { requireRedis, startRedis, type RedisServer } from '../support/redis.ts'
import { waitFor } from '../support/services.ts'

const LIMITS = { perAddressPerMinute: 4, perUsernamePerMinute: 3 }
/** The nodes' clock, stopped mid-minute: no test's failures fall into two windows. */
const NOW = 1_800_000_030_000

interface Node {
  hub: SharedAuthFailures
  auth: ReturnType<SharedAuthFailures['limiter']>
  /** The value of `iocgw_auth_failures_shared_total{outcome}`. */
  counted(outcome: string): Promise<number>
  lines: Array<Record<string, unknown>>
}

describe.skipIf(!requireRedis())('failed authentications shared through Redis', () => {
  const cleanup = useCleanups()

  const redisServer = async (): Promise<RedisServer> => {
    const r = await startRedis()
    cleanup(() => r.stop())
    return r
  }
  const node = async (redis: RedisServer, id: string): Promise<Node> => {
    const lines: Array<Record<string, unknown>> = []
    const sink = new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c)) as Record<string, unknown>), cb()) })
    const metrics = new Metrics({ defaults: false })
    const hub = sharedAuthFailures({ redisUrl: redis.url, nodeId: id, logger: createLogger('info', sink), metrics, now: () => NOW })
    cleanup(() => hub.close())
    const auth = hub.limiter('auth', LIMITS)
    const counted = async (outcome: string) =>
      Number(new RegExp(`^iocgw_auth_failures_shared_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(await metrics.text())?.[1] ?? 0)
    await waitFor(() => hub.shared(), 10_000)
    return { hub, auth, counted, lines }
  }

  it('failures spread over two nodes reach the address limit and the user-name limit on both', async () => {
    const redis = await redisServer()
    const [a, b] = [await node(redis, 'node-a'), await node(redis, 'node-b')]
    a.auth.fail('10.0.0.1')
    b.auth.fail('::ffff:10.0.0.1')
    a.auth.fail('10.0.0.1')
    // Three of four: neither refuses yet, once every count has crossed (one applied per failure elsewhere).
    await waitFor(async () => (await a.counted('applied')) === 1 && (await b.counted('applied')) === 2)
    expect([a.auth.blocked('10.0.0.1'), b.auth.blocked('10.0.0.1')]).toEqual([0, 0])
    b.auth.fail('10.0.0.1')
    await waitFor(() => a.auth.blocked('10.0.0.1') > 0 && b.auth.blocked('10.0.0.1') > 0)
    expect(a.auth.blocked('10.0.0.1')).toBeLessThanOrEqual(60)

    // The name from three addresses, none of them near its own limit.
    a.auth.fail('10.0.1.1', 'dev-7')
    b.auth.fail('10.0.1.2', 'dev-7')
    a.auth.fail('10.0.1.3', 'dev-7')
    await waitFor(() => a.auth.blocked('10.0.1.9', 'dev-7') > 0 && b.auth.blocked('10.0.1.9', 'dev-7') > 0)
    expect([a.auth.blocked('10.0.1.9'), b.auth.blocked('10.0.1.9', 'dev-8')]).toEqual([0, 0])
  })

  it("counts a node's own failure once, though its count comes back through Redis", async () => {
    const redis = await redisServer()
    const [a, b] = [await node(redis, 'node-a'), await node(redis, 'node-b')]
    for (let i = 0; i < LIMITS.perAddressPerMinute - 1; i++) a.auth.fail('10.0.0.2')
    await waitFor(async () => (await a.counted('sent')) === 3 && (await b.counted('applied')) === 3)
    expect([a.auth.blocked('10.0.0.2'), b.auth.blocked('10.0.0.2')]).toEqual([0, 0])
    a.auth.fail('10.0.0.2')
    expect(a.auth.blocked('10.0.0.2')).toBeGreaterThan(0)
  })

  it('the limiters of different names count apart', async () => {
    const redis = await redisServer()
    const [a, b] = [await node(redis, 'node-a'), await node(redis, 'node-b')]
    const loginA = a.hub.limiter('login', { perAddressPerMinute: 2 })
    const loginB = b.hub.limiter('login', { perAddressPerMinute: 2 })
    loginA.fail('user:lan')
    loginB.fail('user:lan')
    await waitFor(() => loginA.blocked('user:lan') > 0 && loginB.blocked('user:lan') > 0)
    expect([a.auth.blocked('user:lan'), b.auth.blocked('user:lan')]).toEqual([0, 0])
  })

  it('a node starting late reads the failures counted before it listened', async () => {
    const redis = await redisServer()
    const a = await node(redis, 'node-a')
    for (let i = 0; i < 3; i++) a.auth.fail('10.0.0.3')
    await waitFor(async () => (await a.counted('sent')) === 3)
    // Shared once it has read the window: the three failures are read, not heard on the channel,
    // and one more on this node reaches the limit of four.
    const b = await node(redis, 'node-b')
    b.auth.fail('10.0.0.3')
    expect(b.auth.blocked('10.0.0.3')).toBeGreaterThan(0)
    expect(await b.counted('applied')).toBe(0)
  })

  it('with Redis stopped each node counts alone, answers at once, and says so once; shared again after', async () => {
    const redis = await redisServer()
    const [a, b] = [await node(redis, 'node-a'), await node(redis, 'node-b')]
    await redis.kill()
    await waitFor(() => !a.hub.shared() && !b.hub.shared(), 10_000)
    for (let i = 0; i < LIMITS.perAddressPerMinute; i++) a.auth.fail('10.0.0.4', 'dev-9')
    // Synchronous answers from memory: no promise, no throw, whatever Redis does.
    expect(a.auth.blocked('10.0.0.4')).toBeGreaterThan(0)
    expect(b.auth.blocked('10.0.0.4', 'dev-9')).toBe(0)
    await waitFor(async () => (await a.counted('unsent')) === 2 * LIMITS.perAddressPerMinute)
    const warned = (n: Node) => n.lines.filter((l) => l.event === 'auth_failures_local')
    expect(warned(a)).toHaveLength(1)
    expect(warned(b)).toHaveLength(1)
    expect(JSON.stringify(a.lines)).not.toContain('dev-9')

    await redis.start()
    await waitFor(() => a.hub.shared() && b.hub.shared(), 20_000)
    await waitFor(() => a.lines.some((l) => l.event === 'auth_failures_shared'))
    b.auth.fail('10.0.0.5')
    await waitFor(async () => (await a.counted('applied')) === 1)
    expect(warned(a)).toHaveLength(1)
  })

  it('Redis connected but refusing writes: the failure counts here, unsent, logged once a minute, no outage', async () => {
    const redis = await redisServer()
    const a = await node(redis, 'node-a')
    const admin = new Redis(redis.url)
    cleanup(() => admin.quit())
    // noeviction (the default) past maxmemory: every write is refused with OOM.
    await admin.config('SET', 'maxmemory', '1')
    a.auth.fail('10.0.0.7')
    a.auth.fail('10.0.0.7')
    await waitFor(async () => (await a.counted('unsent')) === 2)
    expect(a.lines.filter((l) => l.event === 'auth_failures_unsent')).toHaveLength(1)
    expect(a.lines.filter((l) => l.event === 'auth_failures_local')).toHaveLength(0)
    expect(a.hub.shared()).toBe(true)
    await admin.config('SET', 'maxmemory', '0')
    a.auth.fail('10.0.0.7')
    await waitFor(async () => (await a.counted('sent')) === 1)
  })

  it('counts and ignores a malformed message on the channel, and goes on', async () => {
    const redis = await redisServer()
    const [a, b] = [await node(redis, 'node-a'), await node(redis, 'node-b')]
    const rogue = new Redis(redis.url)
    cleanup(() => rogue.quit())
    const good = {
      node: 'node-x~1',
      window: NOW - 30_000,
      counter: 'auth:address',
      key: 'A'.repeat(22),
      count: 9,
    }
    for (const m of [
      'not json',
      '{"node":1}',
      JSON.stringify({ ...good, count: 0 }),
      JSON.stringify({ ...good, counter: 'other:address' }),
    ])
      await rogue.publish('iocgw:authfail', m)
    await waitFor(async () => (await a.counted('invalid')) === 4 && (await b.counted('invalid')) === 4)
    // Logged, at most once a minute.
    expect(a.lines.filter((l) => l.event === 'auth_failures_invalid')).toHaveLength(1)
    a.auth.fail('10.0.0.6')
    await waitFor(async () => (await b.counted('applied')) === 1)
  })
})

describe("one-minute windows raised to other nodes' counts", () => {
  it('takes the larger count of the same window, ignores an older window and an ended one, and follows a newer one', () => {
    let t = 120_000 + 30_000
    const c = windowCounter(3, 10, () => t, true)
    expect(c.fail('k')).toEqual({ start: 120_000, count: 1 })
    c.raise('k', 120_000, 2)
    c.raise('k', 120_000, 1)
    expect(c.retryAfter('k')).toBe(0)
    c.raise('k', 60_000, 9)
    expect(c.retryAfter('k')).toBe(0)
    c.raise('k', 120_000, 3)
    expect(c.retryAfter('k')).toBe(30)
    // A node whose clock runs 5 s ahead is already in the next minute: its window is taken as it is.
    c.raise('k', 180_000, 3)
    expect(c.retryAfter('k')).toBe(90)
    t = 240_000
    c.raise('other', 120_000, 5)
    expect(c.retryAfter('other')).toBe(0)
    expect(c.retryAfter('k')).toBe(0)
  })
})
