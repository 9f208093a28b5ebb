import { Redis } from 'ioredis'
import type pg from 'pg'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createAlerting, type Alerting } from '../../gateway/alerts/engine.ts'
import { FencedError } from '../../gateway/alerts/errors.ts'
import { openAlertStore } from '../../gateway/alerts/open-store.ts'
import { partitionIndex, partitionLease } from '../../gateway/alerts/partitions.ts'
import { parseRules } from '../../gateway/alerts/rules.ts'
import type { AlertStore } from '../../gateway/alerts/store.ts'
import type { AlertChange } from '../../gateway/alerts/types.ts'
import type { LeaseManager } from '../../gateway/cluster/leases.ts'
import { CLUSTER_MIGRATIONS, CLUSTER_MIGRATIONS_TABLE } from '../../gateway/cluster/migrations.ts'
import type { Metrics } from '../../gateway/metrics/registry.ts'
import { migratePg } from '../../gateway/pg/migrate.ts'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { nodeLeases } from '../support/cluster-leases.ts'
import { requirePostgres, startPostgres, type PgInstance } from '../support/postgres.ts'
import { requireRedis, startRedis, type RedisServer } from '../support/redis.ts'
import { tempDir, waitFor } from '../support/services.ts'
import { gauge, metrics, quietLogger, stations } from './helpers.ts'
import { metricValue } from '../support/metrics.ts'

// Alert rules across nodes (docs/operations.md "Alert rules across nodes"), gateway/alerts/partitions.ts
// on a real PostgreSQL and a real Redis: two engines as two nodes (own pools, leases, alerts.db),
// four partitions. Inputs reaching the node that does not own the station's partition are
// evaluated by the owner; when the owner dies the other takes the partition over from the stored
// state, and an input arriving meanwhile is held, not lost; a node that lost the partition cannot write.

const logger = pino({ level: 'silent' })
const TTL = 3000
const RENEW = 1000
const COUNT = 4
const STATION = 'kim-long'
const LEASE = partitionLease(partitionIndex(`station:${STATION}`, COUNT))
const T0 = Date.now() - 3_600_000
// min_duration_s 5: the crossing counts from the first reading above level I, in event time.
const RULES = [{ id: 'wl', type: 'water_alarm', hysteresis_m: 0.1, min_duration_s: 5 }]

interface Node {
  id: string
  pool: pg.Pool
  leases: LeaseManager
  store: AlertStore
  alerting: Alerting
  m: Metrics
  changes: AlertChange[]
  dead: boolean
}

describe.skipIf(!requirePostgres() || !requireRedis())('alert partitions across nodes (PostgreSQL, Redis)', () => {
  let pgi: PgInstance
  let redis: RedisServer
  const nodes: Node[] = []

  beforeAll(async () => {
    ;[pgi, redis] = await Promise.all([startPostgres(), startRedis()])
  }, 120_000)
  afterAll(async () => {
    await Promise.all([pgi?.stop(), redis?.stop()])
  })
  afterEach(async () => {
    for (const n of nodes.splice(0)) {
      if (!n.dead) {
        await n.alerting.close()
        await n.leases.close()
      }
      await n.pool.end()
    }
  })

  async function startNode(url: string, id: string, withPartitions = true, rules: unknown[] = RULES): Promise<Node> {
    const dir = tempDir()
    const pool = openPgPool(url, { logger, applicationName: id, max: 6 })
    await migratePg(pool, CLUSTER_MIGRATIONS, CLUSTER_MIGRATIONS_TABLE)
    const { leases } = nodeLeases(pool, id, logger, { ttlMs: TTL, renewMs: RENEW })
    const store = await openAlertStore({ dataDir: dir.path, pool })
    const m = metrics()
    const alerting = createAlerting({
      store,
      dataDir: dir.path,
      logger: quietLogger(),
      metrics: m,
      stations: stations(),
      rules: parseRules({ version: 1, rules }),
      silenceCheckMs: 200,
      lateAfterMs: 86_400_000,
      flushMs: 200,
      partitions: withPartitions ? { leases, redisUrl: redis.url, nodeId: id, count: COUNT, holdMs: 30_000 } : undefined,
    })
    const changes: AlertChange[] = []
    alerting.onChange((c) => changes.push(c))
    leases.start()
    const n: Node = { id, pool, leases, store, alerting, m, changes, dead: false }
    nodes.push(n)
    return n
  }

  /** Both nodes up, every partition owned; answers [owner of the station's partition, the other]. */
  async function twoNodes(withPartitions = true, rules: unknown[] = RULES, lease = LEASE): Promise<[Node, Node]> {
    const url = await pgi.createDatabase()
    const a = await startNode(url, 'node-a', withPartitions, rules)
    const b = await startNode(url, 'node-b', withPartitions, rules)
    await waitFor(() => a.leases.heldLeases().size === COUNT / 2 && b.leases.heldLeases().size === COUNT / 2, 30_000, 100)
    return a.leases.token(lease) !== undefined ? [a, b] : [b, a]
  }

  const routed = (n: Node, outcome: string) => metricValue(n.m, 'alert_inputs_routed_total', { outcome })
  const opened = (n: Node) => n.changes.filter((c) => c.change.action === 'opened')
  const alertsOf = async (pool: pg.Pool) =>
    (
      await pool.query<{ id: string; state: string }>(`SELECT id, state FROM alerts WHERE subject = $1 ORDER BY opened_at`, [
        `station:${STATION}`,
      ])
    ).rows
  const send = async (n: Node, seconds: number, level: number) => {
    await n.alerting.handleReading(gauge(STATION, T0 + seconds * 1000, level))
  }

  it('a reading reaching the node that does not own its station is evaluated by the owner, once', async () => {
    const [owner, other] = await twoNodes()
    // The owner's subscription may still be on its way: a reading then waits (held) until it is there.
    for (let s = 0; s <= 6; s++) await send(other, s, 1.2)
    await waitFor(() => opened(owner).length === 1, 20_000, 50)
    await owner.alerting.idle()
    expect(opened(other)).toHaveLength(0)
    expect(await routed(other, 'forwarded')).toBe(7)
    expect(await routed(owner, 'local')).toBe(7)
    expect(await routed(other, 'local')).toBe(0)
    expect(await routed(other, 'no_holder')).toBe(0)
    expect(await alertsOf(owner.pool)).toHaveLength(1)
  }, 90_000)

  it('a gauge moving between nodes: the alert reopens when the level rises again (a node evaluating with its own stale cache would not)', async () => {
    const [owner, other] = await twoNodes()
    // Opened at the owner, resolved by readings reaching the other node, risen again at the owner.
    for (let s = 0; s <= 6; s++) await send(owner, s, 1.2)
    for (let s = 7; s <= 13; s++) await send(other, s, 0.5)
    await waitFor(
      async () => {
        const rows = await alertsOf(owner.pool)
        return rows.length === 1 && rows[0]!.state === 'resolved'
      },
      20_000,
      50,
    )
    for (let s = 14; s <= 20; s++) await send(owner, s, 1.2)
    await waitFor(async () => (await alertsOf(owner.pool)).length === 2, 20_000, 50)
    const rows = await alertsOf(owner.pool)
    expect(rows.map((r) => r.state)).toEqual(['resolved', 'open'])
  }, 90_000)

  it('the owner dies during the crossing: the other node takes the partition over from the stored state, holding inputs meanwhile; one alert', async () => {
    const [owner, other] = await twoNodes()
    // The crossing starts at the owner (its duration in the stored rule state)...
    for (let s = 0; s <= 2; s++) await send(other, s, 1.2)
    await waitFor(
      async () => {
        const r = await owner.pool.query<{ state: { lastTs: number; pending?: { since: number } } }>(
          `SELECT state FROM alert_rule_state WHERE rule = 'wl' AND subject = $1`,
          [`station:${STATION}`],
        )
        const st = r.rows[0]?.state
        return st?.lastTs === T0 + 2000 && st.pending?.since === T0
      },
      20_000,
      50,
    )
    // ...then the owner stops as in a crash: no more renewals, its leases kept until they expire.
    owner.dead = true
    await owner.leases.close({ release: false })
    await owner.alerting.close()
    // Readings reaching the survivor while no node owns the partition: held, then evaluated there.
    const pending = [3, 4, 5].map((s) => send(other, s, 1.2))
    await Promise.all(pending)
    expect(other.leases.token(LEASE)).toBeDefined()
    await other.alerting.idle()
    expect(await routed(other, 'held')).toBeGreaterThanOrEqual(1)
    expect(await routed(other, 'no_holder')).toBe(0)
    // Reading 5 s after the first above level I: the duration taken over from the stored state is complete.
    await waitFor(() => opened(other).length === 1, 20_000, 50)
    for (let s = 6; s <= 8; s++) await send(other, s, 1.3)
    await other.alerting.idle()
    expect(opened(owner)).toHaveLength(0)
    expect(opened(other)).toHaveLength(1)
    expect(opened(other)[0]!.change.event_ts).toBe(new Date(T0 + 5000).toISOString())
    expect(await alertsOf(other.pool)).toHaveLength(1)
  }, 90_000)

  it('a device heard only by the owner of its partition, which then dies: the new owner finds it silent (one silence alert)', async () => {
    const device = `${STATION}-01`
    const subject = `device:${device}`
    const rules = [{ id: 'quiet', type: 'silence', expected_interval_s: 3, device_kinds: ['water_level'] }]
    const [owner, other] = await twoNodes(true, rules, partitionLease(partitionIndex(subject, COUNT)))
    // Below level I: the reading matters to the silence rule only. It reaches the owner alone.
    await owner.alerting.handleReading(gauge(STATION, Date.now(), 0.5))
    await waitFor(async () => (await owner.store.loadRuleState('quiet', subject)) !== undefined, 20_000, 50)
    owner.dead = true
    await owner.leases.close({ release: false })
    await owner.alerting.close()
    await waitFor(() => opened(other).length === 1, 30_000, 100)
    expect(opened(other)[0]!.alert.device).toBe(device)
    expect(opened(other)[0]!.alert.kind).toBe('silence')
    // Watched by one node: checked again and again, still the one alert.
    await new Promise((r) => setTimeout(r, 1000))
    expect(opened(other)).toHaveLength(1)
    expect(opened(owner)).toHaveLength(0)
  }, 90_000)

  it("a chatty device's news leave for the owner of its partition once per tenth of the silence interval, and it is never found silent while it talks", async () => {
    const device = `${STATION}-01`
    const subject = `device:${device}`
    // 3 s expected: one `seen` per 300 ms at most leaves the node the device talks to.
    const rules = [{ id: 'quiet', type: 'silence', expected_interval_s: 3, device_kinds: ['water_level'] }]
    const [owner, other] = await twoNodes(true, rules, partitionLease(partitionIndex(subject, COUNT)))
    const start = performance.now()
    for (let i = 0; i < 30; i++) {
      await other.alerting.handleReading(gauge(STATION, Date.now(), 0.5))
      await new Promise((r) => setTimeout(r, 20))
    }
    const elapsed = performance.now() - start
    const coalesced = await routed(other, 'coalesced')
    expect(30 - coalesced).toBeGreaterThanOrEqual(1)
    expect(30 - coalesced).toBeLessThanOrEqual(Math.ceil(elapsed / 300) + 1)
    await waitFor(async () => (await owner.store.loadRuleState('quiet', subject)) !== undefined, 20_000, 50)
    // Talking every 200 ms for 4 s (past the 3 s interval): never silent.
    for (let i = 0; i < 20; i++) {
      await other.alerting.handleReading(gauge(STATION, Date.now(), 0.5))
      await new Promise((r) => setTimeout(r, 200))
    }
    expect(opened(owner)).toHaveLength(0)
    // Quiet from now on: the owner finds it silent.
    await waitFor(() => opened(owner).length === 1, 20_000, 100)
    expect(opened(owner)[0]!.alert.kind).toBe('silence')
    expect(opened(other)).toHaveLength(0)
  }, 90_000)

  it("one turn's inputs of a partition leave as one message, in order; a single input as nodes of the previous version send it is still read", async () => {
    const [owner, other] = await twoNodes()
    const n = partitionIndex(`station:${STATION}`, COUNT)
    const tap = new Redis(redis.url)
    const heard: string[] = []
    tap.on('message', (_channel: string, message: string) => heard.push(message))
    // The partition's channel, or the owner's once the other node has read who owns it.
    await tap.subscribe(`iocgw:alerts:inputs:${n}`, `iocgw:alerts:node:${owner.id}`)
    try {
      // Wait until the owner listens: a probe reading, forwarded once it has a receiver.
      await send(other, 0, 0.5)
      await waitFor(async () => (await routed(owner, 'local')) === 1, 20_000, 50)
      heard.length = 0
      // Seven readings in one turn (as the readings of one stored array arrive), crossing level I.
      await Promise.all(Array.from({ length: 7 }, (_, i) => send(other, 1 + i, 1.2)))
      await waitFor(async () => (await routed(owner, 'local')) === 8, 20_000, 50)
      expect(heard).toHaveLength(1)
      const batch = JSON.parse(heard[0]!) as { inputs: Array<{ input: { reading: { ts: number } } }> }
      expect(batch.inputs.map((f) => f.input.reading.ts)).toEqual(Array.from({ length: 7 }, (_, i) => T0 + (1 + i) * 1000))
      await waitFor(() => opened(owner).length === 1, 20_000, 50)

      const pub = new Redis(redis.url)
      try {
        const single = { hops: 0, input: { type: 'reading', reading: gauge(STATION, T0 + 9000, 1.3) } }
        await pub.publish(`iocgw:alerts:inputs:${n}`, JSON.stringify(single))
      } finally {
        pub.disconnect()
      }
      await waitFor(async () => (await routed(owner, 'local')) === 9, 20_000, 50)
    } finally {
      tap.disconnect()
    }
    expect(await routed(owner, 'invalid')).toBe(0)
    expect(await routed(other, 'forwarded')).toBe(8)
    expect(await alertsOf(owner.pool)).toHaveLength(1)
  }, 90_000)

  it('inputs of several partitions owned by one node leave for it as one message on its channel, each naming its partition', async () => {
    const [owner, other] = await twoNodes()
    const partitionOfStation = (st: string) => partitionIndex(`station:${st}`, COUNT)
    const mine = Array.from({ length: 40 }, (_, i) => `st-${i}`).filter(
      (st) => owner.leases.token(partitionLease(partitionOfStation(st))) !== undefined,
    )
    expect(new Set(mine.map(partitionOfStation)).size).toBe(COUNT / 2)
    const tap = new Redis(redis.url)
    const heard: Array<[string, string]> = []
    tap.on('message', (channel: string, message: string) => heard.push([channel, message]))
    await tap.subscribe(`iocgw:alerts:node:${owner.id}`, ...Array.from({ length: COUNT }, (_, n) => `iocgw:alerts:inputs:${n}`))
    try {
      // The other node reads who owns what every second: until then, each partition's own channel.
      await waitFor(
        async () => {
          heard.length = 0
          await other.alerting.handleReading(gauge(mine[0]!, Date.now(), 0.5))
          await new Promise((r) => setTimeout(r, 100))
          return heard.some(([channel]) => channel === `iocgw:alerts:node:${owner.id}`)
        },
        20_000,
        100,
      )
      heard.length = 0
      const before = await routed(owner, 'local')
      await Promise.all(mine.map((st, i) => other.alerting.handleReading(gauge(st, T0 + i, 0.5))))
      await waitFor(async () => (await routed(owner, 'local')) - before === mine.length, 20_000, 50)
      expect(heard.map(([channel]) => channel)).toEqual([`iocgw:alerts:node:${owner.id}`])
      const message = JSON.parse(heard[0]![1]) as { inputs: Array<{ partition: number; input: { reading: { station: string } } }> }
      expect(message.inputs.map((f) => f.input.reading.station).sort()).toEqual([...mine].sort())
      for (const f of message.inputs) expect(f.partition).toBe(partitionOfStation(f.input.reading.station))
    } finally {
      tap.disconnect()
    }
    expect(await routed(owner, 'invalid')).toBe(0)
  }, 90_000)

  it('a forwarded message that is not an input is refused with its reason and counted, not evaluated', async () => {
    const [owner] = await twoNodes()
    const n = partitionIndex(`station:${STATION}`, COUNT)
    const pub = new Redis(redis.url)
    try {
      // The first one published once the owner's subscription is there.
      const bad = '{"hops":0,"input":{"type":"reading","reading":{}}}'
      await waitFor(async () => (await pub.publish(`iocgw:alerts:inputs:${n}`, bad)) > 0, 20_000, 100)
      await pub.publish(`iocgw:alerts:inputs:${n}`, 'not json')
      // On the node's channel an input must name its partition, and the right one.
      const reading = { type: 'reading', reading: gauge(STATION, T0, 1.5) }
      await pub.publish(`iocgw:alerts:node:${owner.id}`, JSON.stringify({ inputs: [{ hops: 0, input: reading }] }))
      await pub.publish(
        `iocgw:alerts:node:${owner.id}`,
        JSON.stringify({ inputs: [{ hops: 0, partition: (n + 1) % COUNT, input: reading }] }),
      )
      await waitFor(async () => (await routed(owner, 'invalid')) === 4, 20_000, 50)
    } finally {
      pub.disconnect()
    }
    expect(await routed(owner, 'local')).toBe(0)
  }, 90_000)

  it('a write under a partition token that was taken over is refused, nothing of it stored', async () => {
    const [owner, other] = await twoNodes()
    const stale = owner.leases.token(LEASE)!
    owner.dead = true
    await owner.leases.close({ release: false })
    await owner.alerting.close()
    await waitFor(() => other.leases.token(LEASE) !== undefined, 30_000, 100)
    const write = other.store.transaction(
      async (tx) => {
        await tx.saveRuleStates([{ rule: 'wl', subject: `station:${STATION}`, state: { level: 3 } }])
      },
      { fence: { name: LEASE, token: stale } },
    )
    await expect(write).rejects.toBeInstanceOf(FencedError)
    expect(await other.store.loadRuleState('wl', `station:${STATION}`)).toBeUndefined()
    // Under the current token the same write goes through.
    const current = other.leases.token(LEASE)!
    await other.store.transaction((tx) => tx.saveRuleStates([{ rule: 'wl', subject: `station:${STATION}`, state: { level: 3 } }]), {
      fence: { name: LEASE, token: current },
    })
    expect(await other.store.loadRuleState('wl', `station:${STATION}`)).toEqual({ level: 3 })
    // The periodic flush writes every partition's states in one transaction: the group under the
    // stale token is left out (and answered), the others written.
    const left = await other.store.flushRuleStates([
      { fence: { name: LEASE, token: stale }, states: [{ rule: 'wl', subject: `station:${STATION}`, state: { level: 0 } }] },
      { fence: { name: LEASE, token: current }, states: [{ rule: 'rise', subject: `station:${STATION}`, state: { level: 1 } }] },
      { states: [{ rule: 'quiet', subject: 'device:g1', state: { lastSeen: T0 } }] },
    ])
    expect(left).toEqual([{ name: LEASE, token: stale }])
    expect(await other.store.loadRuleState('wl', `station:${STATION}`)).toEqual({ level: 3 })
    expect(await other.store.loadRuleState('rise', `station:${STATION}`)).toEqual({ level: 1 })
    expect(await other.store.loadRuleState('quiet', 'device:g1')).toEqual({ lastSeen: T0 })
  }, 90_000)
})
