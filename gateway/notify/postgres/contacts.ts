import type pg from 'pg'
import type { Logger } from '../../log/logger.ts'
import type { Metrics } from '../../metrics/registry.ts'
import { followChannel, type Follower } from '../../pg/follow.ts'
import { migratePg } from '../../pg/migrate.ts'
import { seedOnce } from '../../pg/seed-once.ts'
import { inTransaction } from '../../pg/transaction.ts'
import { contactPage, contactRow, newContactId, patched, toContact, type ContactRow, type ContactStore } from '../contacts.ts'
import type { Contact } from '../types.ts'
import { NOTIFY_PG_MIGRATIONS, NOTIFY_PG_MIGRATIONS_TABLE } from './migrations.ts'

// The contacts of a cluster (docs/operations.md "Contacts across nodes"): one table in PostgreSQL
// for every node, so a contact added through any node is told of alerts whichever node makes the
// alert change. Every node keeps them all in memory (routing reads them in each alert
// transaction) and follows the table (pg/follow.ts): a write NOTIFYs, and every node re-reads.
// The first node to start copies in its own alerts.db contacts, once, so a single node moved to
// cluster mode keeps its contacts.

const CHANNEL = 'iocgw_contacts'
const COLUMNS = 'id, name, phone, zalo_user_id, role, tier, kinds, stations, districts, min_severity, channels, quiet_hours, created_at'
const INSERT = `INSERT INTO notify_contacts (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`
const values = (r: ContactRow) => [
  r.id,
  r.name,
  r.phone,
  r.zalo_user_id,
  r.role,
  r.tier,
  r.kinds,
  r.stations,
  r.districts,
  r.min_severity,
  r.channels,
  r.quiet_hours,
  r.created_at,
]
/** Seeding on nodes starting together serialises on this transaction-scoped lock. */
const SEED_LOCK = 'iocgw:notify_contacts'

export interface PostgresContactsOptions {
  nodeId: string
  logger: Logger
  metrics: Metrics
  /** This node's own contacts (alerts.db), copied in when no node has seeded the table yet. */
  seed: () => Contact[]
  /** How often the table is re-read, the safety net under LISTEN; default 5 s. */
  syncMs?: number | undefined
}

export interface PostgresContacts extends ContactStore {
  /** Re-reads the table now (also done on every notification and every syncMs). */
  reload(): Promise<void>
  close(): Promise<void>
}

export async function openPostgresContacts(pool: pg.Pool, opts: PostgresContactsOptions): Promise<PostgresContacts> {
  await migratePg(pool, NOTIFY_PG_MIGRATIONS, NOTIFY_PG_MIGRATIONS_TABLE)
  const log = opts.logger.child({ component: 'contacts' })

  const own = opts.seed()
  if (own.length > 0)
    await seedOnce(pool, {
      lock: SEED_LOCK,
      record: 'notify_contacts_seeded',
      counts: ['contacts'],
      nodeId: opts.nodeId,
      inUse: async (c) => (await c.query('SELECT 1 FROM notify_contacts LIMIT 1')).rowCount !== 0,
      async copy(c) {
        for (const k of own) await c.query(`${INSERT} ON CONFLICT (id) DO NOTHING`, values(contactRow(k.id, k, k.created_at)))
        return { contacts: own.length }
      },
      log,
      message: "contacts seeded into PostgreSQL from this node's alerts.db",
      source: "alerts.db's contacts",
    })

  let cache: Contact[] = []
  // Re-reads one at a time, the last one asked for always run: a change is never left behind.
  let reading: Promise<void> | undefined
  let again = false
  const readAll = async (): Promise<void> => {
    const res = await pool.query<ContactRow>(`SELECT ${COLUMNS} FROM notify_contacts ORDER BY tier, id`)
    cache = res.rows.map(toContact)
  }
  const reload = (): Promise<void> => {
    if (reading) {
      again = true
      return reading
    }
    reading = (async () => {
      try {
        do {
          again = false
          await readAll()
        } while (again)
      } finally {
        reading = undefined
      }
    })()
    return reading
  }
  await reload()

  /** Writes in one transaction that NOTIFYs every node, then re-reads here before answering. */
  const write = async <T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    const out = await inTransaction(pool, async (c) => {
      const r = await fn(c)
      await c.query('SELECT pg_notify($1, $2)', [CHANNEL, opts.nodeId])
      return r
    })
    await reload()
    return out
  }

  const follower: Follower = followChannel(pool, CHANNEL, {
    reread: reload,
    everyMs: opts.syncMs ?? 5_000,
    log,
    what: 'cluster contacts',
    metrics: opts.metrics,
    failures: { name: 'contacts_sync_failures_total', help: 'Failed re-reads of the cluster contacts (the next re-read retries)' },
  })

  return {
    async create(k) {
      const row = contactRow(newContactId(), k, new Date().toISOString())
      await write((c) => c.query(INSERT, values(row)))
      return toContact(row)
    },
    async update(id, patch) {
      return write(async (c) => {
        // Locked: two nodes changing one contact at once each apply their patch to the other's result.
        const r = (await c.query<ContactRow>(`SELECT ${COLUMNS} FROM notify_contacts WHERE id = $1 FOR UPDATE`, [id])).rows[0]
        if (!r) return undefined
        const row = contactRow(id, patched(toContact(r), patch), r.created_at)
        await c.query(
          `UPDATE notify_contacts SET name = $2, phone = $3, zalo_user_id = $4, role = $5, tier = $6, kinds = $7, stations = $8,
           districts = $9, min_severity = $10, channels = $11, quiet_hours = $12 WHERE id = $1`,
          values(row).slice(0, 12),
        )
        return toContact(row)
      })
    },
    async remove(id) {
      return write(async (c) => ((await c.query('DELETE FROM notify_contacts WHERE id = $1', [id])).rowCount ?? 0) > 0)
    },
    get: (id) => cache.find((k) => k.id === id),
    list: (p, visible) => contactPage(cache, p, visible),
    all: () => cache,
    reload,
    close: () => follower.close(),
  }
}
