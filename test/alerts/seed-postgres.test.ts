import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type pg from 'pg'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createAlerting, type Alerting } from '../../gateway/alerts/engine.ts'
import { openAlertStore } from '../../gateway/alerts/open-store.ts'
import { openPostgresAlertStore } from '../../gateway/alerts/postgres/store.ts'
import { parseRules } from '../../gateway/alerts/rules.ts'
import type { AlertStore } from '../../gateway/alerts/store.ts'
import type { Alert } from '../../gateway/alerts/types.ts'
import type { Logger } from '../../gateway/log/logger.ts'
import { openNotifyDb } from '../../gateway/notify/db.ts'
import { openPostgresOutbox } from '../../gateway/notify/postgres/outbox.ts'
import { sqliteOutbox } from '../../gateway/notify/sqlite-outbox.ts'
import type { OutboxRow } from '../../gateway/notify/store.ts'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { useCleanups } from '../support/cleanups.ts'
import { capturingLogger } from '../support/log-lines.ts'
import { requirePostgres, usePostgres } from '../support/postgres.ts'
import { tempDir } from '../support/services.ts'
import { clock, gauge, metrics, quietLogger, stations } from './helpers.ts'

// A single-process gateway moved to a cluster (docs/operations.md "Alerts in PostgreSQL"): the
// first node to open the PostgreSQL alert store copies its own alerts.db's alert state in, once
// across nodes (gateway/alerts/postgres/seed.ts), so the cluster goes on where that node was: the
// same alerts, acknowledged as they were, no second alert for a condition already alerted, and the
// messages still to send sent once.

const T0 = Date.now() - 3_600_000
const RULES = parseRules({
  version: 1,
  rules: [
    { id: 'wl', type: 'water_alarm', hysteresis_m: 0.1, min_duration_s: 0 },
    { id: 'quiet', type: 'silence', devices: ['co-bi-01'], expected_interval_s: 600 },
  ],
})
const ESCALATION = { afterMs: 600_000, maxTier: 3, checkMs: 3_600_000 }

const engine = (dataDir: string, now: () => number, store?: AlertStore, logger: Logger = quietLogger()): Alerting =>
  createAlerting({ dataDir, logger, metrics: metrics(), stations: stations(), rules: RULES, now, escalation: ESCALATION, store })

/** What the single node's API answered before the move: the list, the rule states, escalation's candidates, the outbox. */
interface Before {
  alerts: Alert[]
  ruleStates: Record<string, Array<{ subject: string; state: unknown }>>
  escalating: unknown[]
  outbox: OutboxRow[]
  ackedId: string
}

const bySubject = (s: Array<{ subject: string; state: unknown }>) => [...s].sort((a, b) => (a.subject < b.subject ? -1 : 1))

/**
 * A single-process gateway's data directory, made through its own API: Kim Long's alert open and
 * acknowledged (its condition still on), Phú Ốc's opened and resolved, Thượng Nhật's open and
 * escalated to tier 2, Cổ Bi's gauge silent (its silence alert open), and in the outbox one message
 * sent and one still pending.
 */
async function singleNode(dataDir: string): Promise<Before> {
  const clk = clock(T0)
  const store = await openAlertStore({ dataDir })
  const a = engine(dataDir, clk.now, store)
  await a.handleReading(gauge('kim-long', T0, 5))
  await a.handleReading(gauge('co-bi', T0, 0.5))
  const acked = (await a.list({ station: 'kim-long' }, { limit: 1 })).items[0]!
  await a.acknowledge(acked.id, 'Trực ban', 'đã cử người ra đê')
  await a.handleReading(gauge('phu-oc', T0, 5))
  clk.add(60_000)
  await a.handleReading(gauge('phu-oc', T0 + 60_000, 0.1))
  await a.handleReading(gauge('thuong-nhat', T0 + 60_000, 60))
  clk.add(700_000)
  await a.checkSilence()
  await a.checkEscalation()
  await a.flush()

  const notify = openNotifyDb(dataDir)
  const outbox = sqliteOutbox(notify.db)
  const message = (key: string) => ({
    key,
    alert_id: acked.id,
    change_seq: 1,
    contact_id: 'k-officer',
    channel: 'sms' as const,
    severity: acked.severity,
    message: 'Cảnh báo mực nước Kim Long',
    state: 'pending' as const,
    next_at: clk.now(),
    created_at: clk.now(),
    last_error: null,
  })
  await outbox.insert([message('sent-one'), message('pending-one')])
  const sent = (await outbox.all()).find((r) => r.key === 'sent-one')!
  await outbox.markSent(sent.id, clk.now(), 'esms-1')

  const before: Before = {
    alerts: (await a.list({}, { limit: 100 })).items,
    ruleStates: { wl: bySubject(await store.ruleStates('wl')), quiet: bySubject(await store.ruleStates('quiet')) },
    escalating: await store.needingEscalation(clk.now() + 86_400_000, 10),
    outbox: await outbox.all(),
    ackedId: acked.id,
  }
  notify.release()
  await a.close()
  return before
}

describe.skipIf(!requirePostgres())('alerts.db seeded into PostgreSQL', () => {
  const server = usePostgres()
  const cleanup = useCleanups()

  const dataDir = () => {
    const d = tempDir()
    cleanup(() => d.remove())
    return d.path
  }
  const pool = (url: string) => {
    const p = openPgPool(url, { logger: pino({ level: 'silent' }), max: 4 })
    cleanup(() => p.end())
    return p
  }
  /** A node's PostgreSQL alert store, seeding from <dir>/alerts.db (opened without creating alerts.db, as the seed must). */
  const open = async (p: pg.Pool, dir: string, nodeId: string, logger: Logger = quietLogger()) => {
    const store = await openPostgresAlertStore(p, { seed: { file: join(dir, 'alerts.db'), nodeId, logger } })
    cleanup(() => store.close())
    return store
  }
  const seeded = async (p: pg.Pool) =>
    (await p.query('SELECT node, alerts, history, rule_states, outbox FROM alerts_seeded')).rows as Array<Record<string, unknown>>
  const count = async (p: pg.Pool, table: string) => Number((await p.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n)

  it('the cluster answers what the single node answered: the same alerts, acknowledgement, rule state and outbox; an ongoing condition opens no second alert', async () => {
    const dir = dataDir()
    const before = await singleNode(dir)
    const p = pool(await server.createDatabase())
    const { logger, lines } = capturingLogger()
    // As app.ts opens it: through open-store.ts, with this node's id.
    const store = await openAlertStore({ dataDir: dir, pool: p, seed: { nodeId: 'node-a', logger } })
    const clk = clock(T0 + 760_000)
    const a = engine(dir, clk.now, store)
    cleanup(() => a.close())

    expect((await a.list({}, { limit: 100 })).items).toEqual(before.alerts)
    expect(await a.get(before.ackedId)).toMatchObject({
      state: 'acknowledged',
      acknowledged: { by: 'Trực ban', note: 'đã cử người ra đê' },
    })
    expect({ wl: bySubject(await store.ruleStates('wl')), quiet: bySubject(await store.ruleStates('quiet')) }).toEqual(before.ruleStates)
    expect(await store.needingEscalation(clk.now() + 86_400_000, 10)).toEqual(before.escalating)
    const outbox = await openPostgresOutbox(p, { nodeId: 'node-a', claimMs: 30_000 })
    expect(await outbox.all()).toEqual(before.outbox)
    expect((await outbox.all('pending')).map((r) => r.key)).toEqual(['pending-one'])
    // The next message numbered after the copied ones.
    await outbox.insert([{ ...before.outbox[0]!, key: 'after-move', state: 'pending' }])
    expect((await outbox.byKey('after-move'))!.id).toBe(Math.max(...before.outbox.map((r) => r.id)) + 1)

    // Kim Long still high: the cluster knows it is alerted and acknowledged, so nothing changes.
    await a.handleReading(gauge('kim-long', T0 + 700_000, 5))
    await a.handleReading(gauge('thuong-nhat', T0 + 700_000, 60))
    expect((await a.list({}, { limit: 100 })).items).toEqual(before.alerts)
    // Both were last changed at the same instant of the test's clock: listed in either order.
    const open = (await a.list({ state: 'open' }, { limit: 10 })).items
    expect(open).toHaveLength(2)
    expect(open.find((x) => x.kind === 'silence')).toMatchObject({ tier: 1 })
    expect(open.find((x) => x.station === 'thuong-nhat')).toMatchObject({ tier: 2 })
    // The water going down resolves the alert the single node opened.
    await a.handleReading(gauge('kim-long', T0 + 720_000, 0.1))
    expect(await a.get(before.ackedId)).toMatchObject({ state: 'resolved' })
    // Cổ Bi's gauge heard again: the silence rule's state says which alert is its, and it is resolved.
    const silent = before.alerts.find((x) => x.kind === 'silence')!
    await a.handleReading(gauge('co-bi', T0 + 760_000, 0.5))
    expect(await a.get(silent.id)).toMatchObject({ state: 'resolved', device: 'co-bi-01' })

    const info = lines.find((l) => l.msg.includes('seeded into PostgreSQL'))
    expect(info).toMatchObject({
      alerts: before.alerts.length,
      history: before.alerts.reduce((n, x) => n + x.history.length, 0),
      outbox: 2,
    })
    // Counts only: nothing of the alerts or the messages is logged.
    expect(JSON.stringify(lines)).not.toMatch(/Kim Long|Trực ban|kim-long/)
  })

  it('three nodes starting at once, one with alerts.db: copied once, without error; not again after a deletion', async () => {
    const [withFile, b, c] = [dataDir(), dataDir(), dataDir()]
    const before = await singleNode(withFile)
    const url = await server.createDatabase()
    const [pa, pb, pc] = [pool(url), pool(url), pool(url)]
    await Promise.all([open(pb, b, 'node-b'), open(pa, withFile, 'node-a'), open(pc, c, 'node-c')])
    const history = before.alerts.reduce((n, x) => n + x.history.length, 0)
    const ruleStates = before.ruleStates.wl!.length + before.ruleStates.quiet!.length
    expect(await seeded(pa)).toEqual([{ node: 'node-a', alerts: before.alerts.length, history, rule_states: ruleStates, outbox: 2 }])
    expect(await count(pa, 'alert_rule_state')).toBe(ruleStates)
    expect(await count(pa, 'alerts')).toBe(before.alerts.length)
    expect(await count(pa, 'alert_history')).toBe(history)
    expect(await count(pa, 'notify_outbox')).toBe(2)
    expect(existsSync(join(b, 'alerts.db')) || existsSync(join(c, 'alerts.db'))).toBe(false)

    // The resolved alert deleted in the cluster: a restart of the node with the file does not bring it back.
    const resolved = before.alerts.find((x) => x.state === 'resolved')!.id
    await pa.query('DELETE FROM alert_history WHERE alert_id = $1', [resolved])
    await pa.query('DELETE FROM alerts WHERE id = $1', [resolved])
    await open(pa, withFile, 'node-a')
    expect(await count(pa, 'alerts')).toBe(before.alerts.length - 1)
    expect(await seeded(pa)).toHaveLength(1)
  })

  it('a node without alerts.db, first, records nothing and creates no file; the node that has one, after it, copies', async () => {
    const [withFile, without] = [dataDir(), dataDir()]
    const before = await singleNode(withFile)
    const url = await server.createDatabase()
    await open(pool(url), without, 'node-b')
    const p = pool(url)
    expect(await seeded(p)).toEqual([])
    expect(existsSync(join(without, 'alerts.db'))).toBe(false)
    // An alerts.db holding no alert state (other capabilities create it on every node) is nothing to copy either.
    openNotifyDb(without).release()
    await open(pool(url), without, 'node-b')
    expect(await seeded(p)).toEqual([])
    await open(pool(url), withFile, 'node-a')
    expect(await seeded(p)).toMatchObject([{ node: 'node-a', alerts: before.alerts.length }])
    expect(await count(p, 'alerts')).toBe(before.alerts.length)
  })

  it('a database already in use gets nothing of alerts.db: recorded as seeded by (in use), with a warning', async () => {
    const [withFile, other] = [dataDir(), dataDir()]
    await singleNode(withFile)
    const url = await server.createDatabase()
    const p = pool(url)
    const b = engine(other, () => T0, await open(p, other, 'node-b'))
    await b.handleReading(gauge('phu-oc', T0, 5))
    await b.close()
    const { logger, lines } = capturingLogger()
    await open(pool(url), withFile, 'node-a', logger)
    expect(await count(p, 'alerts')).toBe(1)
    expect(await count(p, 'notify_outbox')).toBe(0)
    expect(await seeded(p)).toEqual([{ node: '(in use)', alerts: 0, history: 0, rule_states: 0, outbox: 0 }])
    expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([expect.stringContaining('was not copied')])
  })
})
