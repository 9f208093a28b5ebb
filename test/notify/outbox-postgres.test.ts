import type pg from 'pg'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { openAlertStore } from '../../gateway/alerts/open-store.ts'
import { NOTIFY_PG_MIGRATIONS } from '../../gateway/notify/postgres/migrations.ts'
import { openPostgresOutbox } from '../../gateway/notify/postgres/outbox.ts'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { requirePostgres, usePostgres } from '../support/postgres.ts'
import { tempDir } from '../support/services.ts'
import { outboxContract, row } from './outbox-contract.ts'

// The outbox in PostgreSQL (docs/operations.md "Notifications across nodes"): the same contract as
// alerts.db's, on a real PostgreSQL 15; and what several nodes sharing it need: each due row
// claimed by one node, a lapsed claim taken over, a send only under a live claim, and the
// migrations applied once by nodes starting together.

const logger = pino({ level: 'silent' })
const ok = requirePostgres()
const T0 = Date.parse('2026-11-20T00:00:00Z')
const CLAIM_MS = 1000

describe.skipIf(!ok)('PostgreSQL outbox', () => {
  const server = usePostgres()

  outboxContract('PostgreSQL', async () => {
    const url = await server.createDatabase()
    const dir = tempDir()
    const pool: pg.Pool = openPgPool(url, { logger, max: 4 })
    const alerts = await openAlertStore({ dataDir: dir.path, pool })
    const outbox = await openPostgresOutbox(pool, { nodeId: 'node-a', claimMs: CLAIM_MS })
    return {
      alerts,
      outbox,
      async dispose() {
        await alerts.close()
        await pool.end()
        dir.remove()
      },
    }
  })

  /** Two nodes on one database: each with its own pool, as two processes are. */
  async function twoNodes() {
    const url = await server.createDatabase()
    const pools = [openPgPool(url, { logger, max: 4 }), openPgPool(url, { logger, max: 4 })]
    // Started together on an empty database: the migrations are applied once.
    const [a, b] = await Promise.all(pools.map((p, i) => openPostgresOutbox(p, { nodeId: `node-${'ab'[i]}`, claimMs: CLAIM_MS })))
    return { a: a!, b: b!, pool: pools[0]!, close: () => Promise.all(pools.map((p) => p.end())) }
  }

  it('applies its migrations once when nodes start together', async () => {
    const n = await twoNodes()
    try {
      const v = await n.pool.query<{ version: number }>('SELECT version FROM notify_schema_migrations ORDER BY version')
      expect(v.rows.map((r) => r.version)).toEqual(NOTIFY_PG_MIGRATIONS.map((m) => m.version))
    } finally {
      await n.close()
    }
  })

  it('gives each due row to one node, and a lapsed claim to another', async () => {
    const n = await twoNodes()
    try {
      await n.a.insert(Array.from({ length: 40 }, (_, i) => row(`k${i}`)))
      const [ra, rb] = await Promise.all([n.a.claimDue(T0, 25), n.b.claimDue(T0, 25)])
      const ids = [...ra, ...rb].map((r) => r.id)
      expect(ids).toHaveLength(40)
      expect(new Set(ids).size).toBe(40)
      // Held by a live claim: no one else gets them.
      expect(await n.b.claimDue(T0 + CLAIM_MS - 1, 50)).toEqual([])
      // Node a stops working on its rows: once its claim lapsed, node b takes them over.
      const taken = new Set((await n.b.claimDue(T0 + CLAIM_MS + 1, 50)).map((r) => r.id))
      for (const r of ra) expect(taken.has(r.id)).toBe(true)
      // a's claim is gone: it may not start sending them any more.
      expect(await n.a.markSending(ra[0]!.id, T0 + CLAIM_MS + 2)).toBe(false)
      expect(await n.b.markSending(ra[0]!.id, T0 + CLAIM_MS + 2)).toBe(true)
      // Nor undo what b does with them: a late answer of a's leaves b's send as it is.
      await n.a.setState(ra[0]!.id, 'pending', T0, 'quiet hours')
      expect(await n.a.byKey(ra[0]!.key)).toMatchObject({ state: 'sending', attempts: 1 })
    } finally {
      await n.close()
    }
  })

  it('takes over a send whose node stopped mid-request once its claim lapsed, not before', async () => {
    const n = await twoNodes()
    try {
      await n.a.insert([row('k1')])
      const [r] = await n.a.claimDue(T0, 10)
      expect(await n.a.markSending(r!.id, T0 + 10)).toBe(true)
      // The claim now runs from the start of the request.
      expect(await n.b.abandoned(T0 + CLAIM_MS + 5, false)).toEqual([])
      // Node b restarting is not node a: a's send stays a's until its claim lapses.
      expect(await n.b.abandoned(T0 + 20, true)).toEqual([])
      expect(await n.b.abandoned(T0 + CLAIM_MS + 11, false)).toEqual([{ id: r!.id, channel: 'sms' }])
      // Claimed by b now: a second look finds nothing.
      expect(await n.a.abandoned(T0 + CLAIM_MS + 12, false)).toEqual([])
      await n.b.setState(r!.id, 'pending', T0 + CLAIM_MS + 12, 'resent')
      expect((await n.a.claimDue(T0 + CLAIM_MS + 12, 10)).map((x) => x.key)).toEqual(['k1'])
    } finally {
      await n.close()
    }
  })

  it('a restarted node takes back its own interrupted sends at once', async () => {
    const n = await twoNodes()
    try {
      await n.a.insert([row('k1')])
      const [r] = await n.a.claimDue(T0, 10)
      await n.a.markSending(r!.id, T0)
      expect(await n.a.abandoned(T0 + 1, false)).toEqual([])
      expect(await n.a.abandoned(T0 + 1, true)).toEqual([{ id: r!.id, channel: 'sms' }])
    } finally {
      await n.close()
    }
  })

  it('two nodes digesting one group at once make one digest', async () => {
    const n = await twoNodes()
    try {
      await n.a.insert([row('h1'), row('h2')])
      for (const r of await n.a.claimDue(T0, 10)) await n.a.setState(r.id, 'held', r.next_at, 'rate limit')
      let made = 0
      const make = (rows: Array<{ id: number }>) => {
        made++
        return row(`digest:c1:sms:${rows[0]!.id}`)
      }
      await Promise.all([n.a.digest('c1', 'sms', make), n.b.digest('c1', 'sms', make)])
      expect(made).toBe(1)
      expect((await n.b.all('pending')).map((r) => r.key)).toEqual([expect.stringMatching(/^digest:/)])
    } finally {
      await n.close()
    }
  })
})
