// Notifications across nodes (docs/operations.md "Notifications across nodes"): two real `iocgw
// start` children sharing a real PostgreSQL, with the eSMS stand-in (test/notify/standins.ts,
// which de-duplicates RequestId as eSMS documents). An alert is resolved on node-1: the
// resolution and its outbox rows commit in one PostgreSQL transaction. The stand-in takes the
// first SMS request and holds its answer; the node that sent it is killed with SIGKILL before it
// can record the outcome. What must hold:
// - the other node takes the row over once the killed node's claim lapsed (notify.claimMs) and
//   sends it again with the same RequestId, which eSMS answers as a duplicate (code 124);
// - each contact receives exactly one SMS for the transition, counted at the stand-in;
// - every node lists the shared outbox (GET /api/v1/notifications), whichever node queued a row.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { haveClusterServices, startClusterServices, type ClusterNode, type ClusterServices } from '../support/cluster-nodes.ts'
import { waitFor } from '../support/services.ts'
import { startStandIns, standInConfig, type StandIns } from '../notify/standins.ts'

const PHONES = ['0905000001', '0905000002']
/** notify.claimMs of the nodes: above notify.timeoutMs, short enough for a test to wait out. */
const CLAIM_MS = 12_000

describe.skipIf(!haveClusterServices())('a node killed between sending an SMS and recording it', () => {
  let c: ClusterServices
  let prov: StandIns
  const nodes: ClusterNode[] = []
  let db: pg.Client

  beforeAll(async () => {
    prov = await startStandIns()
    c = await startClusterServices()
    const notify = { ...standInConfig(prov), timeoutMs: 10_000, claimMs: CLAIM_MS, retry: { baseMs: 200, maxMs: 1000, maxAttempts: 10 } }
    for (const id of ['node-1', 'node-2']) nodes.push(await c.spawnNode(id, { config: { notify } }))
    db = new pg.Client({ connectionString: c.pgUrl })
    await db.connect()
  }, 600_000)

  afterAll(async () => {
    await db?.end().catch(() => {})
    await c?.stop()
    await prov?.close()
  }, 120_000)

  it('the other node sends it once its claim lapsed, and each contact gets exactly one SMS', async () => {
    const [n1, n2] = nodes as [ClusterNode, ClusterNode]
    for (const [i, phone] of PHONES.entries()) {
      const r = await c.api(n1, 'POST', '/subscriptions', { name: `Trực ban ${i + 1}`, phone, role: 'officer', channels: ['sms'] })
      expect(r.status).toBe(201)
    }
    // An open alert in the shared store, as a node's engine would have opened it.
    const now = Date.now()
    await db.query(
      `INSERT INTO alerts (id, rule, kind, subject, station, severity, level, state, title, opened_at, updated_at, attention_since)
       VALUES ('a-kim-long', 'water-level', 'water_level', 'station:kim-long', 'kim-long', 'major', 2, 'open', 'Kim Long: báo động II', $1, $1, $2)`,
      [new Date(now).toISOString(), now],
    )

    prov.mode.esms = 'hang'
    const res = await c.api(n1, 'POST', '/alerts/a-kim-long/resolve', { note: 'nước rút' })
    expect(res.status).toBe(200)
    // The resolution and its messages committed together: one row per contact.
    const queued = await db.query<{ key: string }>("SELECT key FROM notify_outbox WHERE alert_id = 'a-kim-long'")
    expect(queued.rows).toHaveLength(PHONES.length)

    // The first SMS reaches the provider, which delivers it and holds its answer.
    const first = await waitFor(() => prov.received.find((r) => r.provider === 'esms'), 60_000, 50)
    const sending = await db.query<{ claimed_by: string; message: string }>(
      "SELECT claimed_by, message FROM notify_outbox WHERE state = 'sending'",
    )
    const row = sending.rows.find((r) => (JSON.parse(r.message) as { phone: string }).phone === first.body.Phone)
    expect(row).toBeDefined()
    const victim = nodes.find((n) => n.id === row!.claimed_by)!
    const survivor = victim === n1 ? n2 : n1
    victim.gw.child.kill('SIGKILL')
    await victim.gw.exited
    prov.mode.esms = 'ok'

    // Taken over after the claim lapsed, by the node still up, and recorded.
    const sent = await waitFor(
      async () => {
        const r = await db.query<{ state: string; provider_id: string; attempts: number; claimed_by: string | null; message: string }>(
          "SELECT state, provider_id, attempts, claimed_by, message FROM notify_outbox WHERE alert_id = 'a-kim-long' ORDER BY id",
        )
        return r.rows.every((x) => x.state === 'sent') ? r.rows : undefined
      },
      CLAIM_MS + 90_000,
      250,
    )
    expect(sent.map((r) => r.state)).toEqual(['sent', 'sent'])
    const taken = sent.find((r) => (JSON.parse(r.message) as { phone: string }).phone === first.body.Phone)!
    expect(taken.attempts).toBe(2)
    expect(taken.provider_id).toMatch(/^dup:/)

    // Counted at the provider: one SMS per contact for this transition.
    for (const phone of PHONES) expect(prov.delivered('esms').filter((r) => r.body.Phone === phone)).toHaveLength(1)
    const toFirst = prov.received.filter((r) => r.provider === 'esms' && r.body.Phone === first.body.Phone)
    expect(toFirst.map((r) => r.answer)).toEqual(['delivered', '124'])
    expect(new Set(toFirst.map((r) => r.body.RequestId)).size).toBe(1)

    // The outbox is shared: the node still up lists the rows node-1 queued.
    const list = await c.api(survivor, 'GET', '/notifications?alert=a-kim-long')
    expect(list.status).toBe(200)
    const items = ((await list.json()) as { items: Array<{ state: string; contact: { name: string | null } }> }).items
    expect(items.map((i) => i.state)).toEqual(['sent', 'sent'])
  }, 400_000)
})
