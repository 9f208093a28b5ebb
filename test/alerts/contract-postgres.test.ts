import { describe, expect, it } from 'vitest'
import type { Alerting } from '../../gateway/alerts/engine.ts'
import { parseRules } from '../../gateway/alerts/rules.ts'
import { useCleanups } from '../support/cleanups.ts'
import { requirePostgres, usePostgres } from '../support/postgres.ts'
import { alertStoreContract } from './contract.ts'
import { gauge } from './helpers.ts'
import { openPgNode } from './pg-node.ts'

// The alert store in PostgreSQL (docs/operations.md "Alerts in PostgreSQL"): the same contract as
// alerts.db, on a real PostgreSQL 15; and the engine on it, where a store call takes real time:
// readings of one subject still apply in arrival order, and two nodes open one alert.

const T0 = Date.now() - 3_600_000

/** One node: its own data directory and pool, the shared database. */
const levelRules = [{ id: 'wl', type: 'water_alarm', hysteresis_m: 0.1, min_duration_s: 0 }]

async function node(
  url: string,
  rules: unknown[] = levelRules,
  now?: () => number,
): Promise<{ alerting: Alerting; close(): Promise<void> }> {
  const pgNode = await openPgNode(url)
  const alerting = pgNode.alerting({ now, rules: parseRules({ version: 1, rules }) })
  return {
    alerting,
    async close() {
      await alerting.close()
      await pgNode.release()
    },
  }
}

const ok = requirePostgres()

describe.skipIf(!ok)('PostgreSQL alert store', () => {
  const server = usePostgres()
  const cleanup = useCleanups()
  /** node(), closed after the test. */
  const testNode = async (...args: Parameters<typeof node>) => {
    const n = await node(...args)
    cleanup(() => n.close())
    return n
  }

  alertStoreContract('PostgreSQL', async () => {
    const { store, release } = await openPgNode(await server.createDatabase())
    return {
      store,
      async dispose() {
        await store.close()
        await release()
      },
    }
  })
  it('readings of one station given all at once apply in arrival order', async () => {
    const a = await testNode(await server.createDatabase())
    const levels = [1.5, 2.5, 3.8, 2.5, 1.5, 0.5, 1.5, 0.5]
    // Not awaited one by one: the bus does not wait either.
    await Promise.all(levels.map((v, i) => a.alerting.handleReading(gauge('kim-long', T0 + i * 60_000, v))))
    await a.alerting.idle()
    const items = (await a.alerting.list({}, { limit: 10 })).items.reverse()
    expect(items.map((x) => x.history.map((h) => `${h.action}:${h.level}`))).toEqual([
      ['opened:1', 'raised:2', 'raised:3', 'lowered:2', 'lowered:1', 'resolved:0'],
      ['opened:1', 'resolved:0'],
    ])
    expect(items.flatMap((x) => x.history.map((h) => h.seq))).toEqual([1, 2, 3, 4, 5, 6, 1, 2])
  })

  it('an acknowledgement queued behind readings of its subject applies after them', async () => {
    const a = await testNode(await server.createDatabase())
    await a.alerting.handleReading(gauge('kim-long', T0, 1.5))
    const [first] = (await a.alerting.list({}, { limit: 1 })).items
    const raise = a.alerting.handleReading(gauge('kim-long', T0 + 60_000, 2.5))
    const ack = a.alerting.acknowledge(first!.id, 'Trực ban')
    await Promise.all([raise, ack])
    // The raise came first, so the acknowledgement is of level II and stands.
    const got = await a.alerting.get(first!.id)
    expect(got).toMatchObject({ state: 'acknowledged', level: 2 })
    expect(got!.history.map((h) => h.action)).toEqual(['opened', 'raised', 'acknowledged'])
  })

  it('two nodes given the same reading at once open one alert, and both then drive it', async () => {
    const url = await server.createDatabase()
    const a = await testNode(url)
    const b = await testNode(url)
    await Promise.all([a, b].map((n) => n.alerting.handleReading(gauge('phu-oc', T0, 5))))
    const open = (await a.alerting.list({ state: 'open' }, { limit: 10 })).items
    expect(open).toHaveLength(1)
    expect(open[0]!.history.map((h) => h.action)).toEqual(['opened'])
    // The node that lost the race drives the same alert: its next reading resolves it.
    for (const n of [a, b]) await n.alerting.handleReading(gauge('phu-oc', T0 + 60_000, 0.1))
    const all = (await b.alerting.list({}, { limit: 10 })).items
    expect(all).toHaveLength(1)
    expect(all[0]!.state).toBe('resolved')
    expect(all[0]!.history.map((h) => h.action)).toEqual(['opened', 'resolved'])
  })
  it('a node given a reading another node already applied records nothing new, and then drives the alert', async () => {
    const url = await server.createDatabase()
    const a = await testNode(url)
    const b = await testNode(url)
    // B holds the station's state from a normal reading; A then opens the alert; B, given the
    // same reading, finds A's alert already at this level (it recorded a `lowered` change to the
    // same level before).
    await b.alerting.handleReading(gauge('phu-oc', T0 - 60_000, 0.1))
    await a.alerting.handleReading(gauge('phu-oc', T0, 5))
    await b.alerting.handleReading(gauge('phu-oc', T0, 5))
    const [alert] = (await a.alerting.list({}, { limit: 10 })).items
    expect(alert!.history.map((h) => h.action)).toEqual(['opened'])
    await b.alerting.handleReading(gauge('phu-oc', T0 + 60_000, 0.1))
    const [after] = (await a.alerting.list({}, { limit: 10 })).items
    expect(after!.history.map((h) => h.action)).toEqual(['opened', 'resolved'])
  })
  it('a device heard on another node is not silent; its silence alert is resolved by the node that hears it next', async () => {
    const url = await server.createDatabase()
    let t = T0
    const now = () => t
    const rules = [{ id: 'quiet', type: 'silence', device_kinds: ['water_level'], expected_interval_s: 600 }]
    const a = await testNode(url, rules, now)
    const reading = () => gauge('kim-long', t, 0.5)
    await a.alerting.handleReading(reading())
    await a.alerting.flush()
    // B starts knowing the device's state as A stored it.
    const b = await testNode(url, rules, now)
    t += 500_000
    await a.alerting.handleReading(reading())
    await a.alerting.flush()
    t += 200_000
    // 700 s since B's copy, 200 s since A heard it: not silent.
    await b.alerting.checkSilence()
    expect((await b.alerting.list({}, { limit: 10 })).items).toHaveLength(0)
    t += 500_000
    await a.alerting.checkSilence()
    await b.alerting.checkSilence()
    const [silent] = (await a.alerting.list({}, { limit: 10 })).items
    expect(silent).toMatchObject({ kind: 'silence', state: 'open', device: 'kim-long-01' })
    // The device comes back on B.
    await b.alerting.handleReading(reading())
    expect(await b.alerting.get(silent!.id)).toMatchObject({ state: 'resolved' })
    expect((await b.alerting.list({}, { limit: 10 })).items).toHaveLength(1)
  })
})
