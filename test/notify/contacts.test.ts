import type pg from 'pg'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { alertsDbContacts, sqliteContacts, type ContactStore } from '../../gateway/notify/contacts.ts'
import { openNotifyDb } from '../../gateway/notify/db.ts'
import { openPostgresContacts, type PostgresContacts } from '../../gateway/notify/postgres/contacts.ts'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { requirePostgres, usePostgres } from '../support/postgres.ts'
import { tempDir, waitFor } from '../support/services.ts'

// Contacts (docs/api.md "Subscriptions"): the same behaviour from alerts.db on one node and from
// PostgreSQL in a cluster (docs/operations.md "Contacts across nodes"), where a change made
// through one node reaches every node, and the first node to start copies its own contacts in once.

const logger = pino({ level: 'silent' })
const OFFICER = { name: 'Trực ban Kim Long', phone: '0905123456', role: 'officer', stations: ['kim-long'], channels: ['sms' as const] }

function contract(name: string, open: () => Promise<{ contacts: ContactStore; dispose(): Promise<void> }>): void {
  describe(`contacts on ${name}`, () => {
    it('creates, reads, pages, changes and removes, with quiet hours defaulting their bypass', async () => {
      const { contacts, dispose } = await open()
      try {
        const a = await contacts.create({ ...OFFICER, quiet_hours: { from: '22:00', to: '06:00' } })
        expect(a).toMatchObject({
          name: OFFICER.name,
          tier: 1,
          min_severity: 'minor',
          quiet_hours: { from: '22:00', to: '06:00', bypass: 'critical' },
        })
        const b = await contacts.create({ name: 'Lãnh đạo', phone: '0905000003', role: 'admin', tier: 3, channels: ['sms', 'sms'] })
        expect(b.channels).toEqual(['sms'])
        expect(contacts.get(a.id)).toEqual(a)
        expect(contacts.all().map((c) => c.id)).toEqual([a.id, b.id])
        const first = contacts.list({ limit: 1 })
        const [lo, hi] = [a.id, b.id].sort()
        expect(first).toEqual({ items: [contacts.get(lo!)], next: lo })
        expect(contacts.list({ limit: 1, cursor: first.next! })).toEqual({ items: [contacts.get(hi!)], next: null })
        expect(contacts.list({ limit: 5 }, (c) => c.tier === 3).items.map((c) => c.id)).toEqual([b.id])

        const changed = await contacts.update(a.id, { tier: 2, quiet_hours: null, stations: null })
        expect(changed).toMatchObject({ id: a.id, tier: 2, name: OFFICER.name, created_at: a.created_at })
        expect(changed!.quiet_hours).toBeUndefined()
        expect(changed!.stations).toBeUndefined()
        expect(contacts.get(a.id)).toEqual(changed)
        expect(await contacts.update('c-none', { tier: 2 })).toBeUndefined()

        expect(await contacts.remove(b.id)).toBe(true)
        expect(await contacts.remove(b.id)).toBe(false)
        expect(contacts.get(b.id)).toBeUndefined()
        expect(contacts.all().map((c) => c.id)).toEqual([a.id])
      } finally {
        await dispose()
      }
    })
  })
}

contract('SQLite (alerts.db)', async () => {
  const dir = tempDir()
  const shared = openNotifyDb(dir.path)
  return {
    contacts: sqliteContacts(shared.db),
    async dispose() {
      shared.release()
      dir.remove()
    },
  }
})

const ok = requirePostgres()

describe.skipIf(!ok)('contacts in PostgreSQL', () => {
  const server = usePostgres()

  const node = async (pool: pg.Pool, id: string, seed: ContactStore['all'] = () => []): Promise<PostgresContacts> =>
    openPostgresContacts(pool, { nodeId: id, logger, metrics: new Metrics({ defaults: false }), seed, syncMs: 60_000 })

  contract('PostgreSQL', async () => {
    const pool = openPgPool(await server.createDatabase(), { logger, max: 4 })
    const contacts = await node(pool, 'node-a')
    return {
      contacts,
      async dispose() {
        await contacts.close()
        await pool.end()
      },
    }
  })

  it("a change through one node reaches the other's routing by notification", async () => {
    const url = await server.createDatabase()
    const pools = [openPgPool(url, { logger, max: 3 }), openPgPool(url, { logger, max: 3 })]
    // Re-reads every 60 s: within this test only LISTEN/NOTIFY can carry a change across.
    const [a, b] = [await node(pools[0]!, 'node-a'), await node(pools[1]!, 'node-b')]
    try {
      const made = await a.create(OFFICER)
      await waitFor(() => b.get(made.id) !== undefined, 10_000, 20)
      expect(b.all()).toEqual(a.all())
      await b.update(made.id, { phone: '0905999999' })
      await waitFor(() => a.get(made.id)?.phone === '0905999999', 10_000, 20)
      await a.remove(made.id)
      await waitFor(() => b.all().length === 0, 10_000, 20)
    } finally {
      await a.close()
      await b.close()
      for (const p of pools) await p.end()
    }
  }, 60_000)

  it("copies the first node's own contacts in once, also when nodes start together", async () => {
    const url = await server.createDatabase()
    const dirs = [tempDir(), tempDir(), tempDir()]
    // Each node's alerts.db with contacts of its own, as single nodes had them.
    dirs.forEach((d, i) => {
      const shared = openNotifyDb(d.path)
      void sqliteContacts(shared.db).create({ ...OFFICER, name: `own ${i}` })
      shared.release()
    })
    const pools = dirs.map(() => openPgPool(url, { logger, max: 3 }))
    const nodes = await Promise.all(dirs.map((d, i) => node(pools[i]!, `node-${i}`, () => alertsDbContacts(d.path))))
    try {
      for (const n of nodes) await n.reload()
      const names = nodes[0]!.all().map((c) => c.name)
      expect(names).toHaveLength(1)
      for (const n of nodes) expect(n.all()).toEqual(nodes[0]!.all())
      // Its id is kept, so the outbox rows that name it still do.
      const seeder = dirs.findIndex((_, i) => names[0] === `own ${i}`)
      expect(alertsDbContacts(dirs[seeder]!.path).map((c) => c.id)).toEqual(nodes[0]!.all().map((c) => c.id))
      // Emptied by hand later, the table is not seeded again at the next start.
      await nodes[0]!.remove(nodes[0]!.all()[0]!.id)
      const again = await node(pools[1]!, 'node-1', () => alertsDbContacts(dirs[1]!.path))
      expect(again.all()).toEqual([])
      await again.close()
    } finally {
      for (const n of nodes) await n.close()
      for (const p of pools) await p.end()
      for (const d of dirs) d.remove()
    }
  }, 60_000)

  it('a node with no contacts of its own records nothing, so the node that ran alone copies after it; contacts made in the cluster first are kept, and nothing is copied over them', async () => {
    const own = tempDir()
    const shared = openNotifyDb(own.path)
    void sqliteContacts(shared.db).create({ ...OFFICER, name: 'own' })
    shared.release()
    const seeded = async (pool: pg.Pool) => (await pool.query('SELECT node, contacts FROM notify_contacts_seeded')).rows as unknown[]
    const [first, later] = [
      openPgPool(await server.createDatabase(), { logger, max: 3 }),
      openPgPool(await server.createDatabase(), { logger, max: 3 }),
    ]
    const opened: PostgresContacts[] = []
    try {
      opened.push(await node(first, 'node-bare'))
      expect(await seeded(first)).toEqual([])
      const alone = await node(first, 'node-alone', () => alertsDbContacts(own.path))
      opened.push(alone)
      expect(alone.all().map((c) => c.name)).toEqual(['own'])
      expect(await seeded(first)).toEqual([{ node: 'node-alone', contacts: 1 }])

      const bare = await node(later, 'node-bare')
      opened.push(bare)
      const made = await bare.create({ ...OFFICER, name: 'made in the cluster' })
      const late = await node(later, 'node-alone', () => alertsDbContacts(own.path))
      opened.push(late)
      expect(late.all()).toEqual([made])
      expect(await seeded(later)).toEqual([{ node: '(in use)', contacts: 0 }])
    } finally {
      for (const n of opened) await n.close()
      await first.end()
      await later.end()
      own.remove()
    }
  }, 60_000)
})
