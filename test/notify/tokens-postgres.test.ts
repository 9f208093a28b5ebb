import { pino } from 'pino'
import Value from 'typebox/value'
import { describe, expect, it } from 'vitest'
import { channelsFromConfig } from '../../gateway/notify/channels/index.ts'
import { NotifySection, type NotifyConfig } from '../../gateway/notify/config.ts'
import { openNotifyDb } from '../../gateway/notify/db.ts'
import { openPostgresTokenStore } from '../../gateway/notify/postgres/tokens.ts'
import { alertsDbTokens, sqliteTokenStore, type ProviderTokenStore } from '../../gateway/notify/token-store.ts'
import type { OutgoingMessage } from '../../gateway/notify/types.ts'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { requirePostgres, usePostgres } from '../support/postgres.ts'
import { tempDir } from '../support/services.ts'
import { startStandIns, standInConfig, type StandIns } from './standins.ts'

// Zalo's OAuth tokens across nodes (docs/operations.md "Notifications across nodes"): a refresh
// token is single use (the stand-in refuses a spent one, as Zalo does), so nodes renewing on their
// own each spend the pair they hold and all but the first are refused. With the tokens in
// PostgreSQL one node renews and the others use its new pair.

const logger = pino({ level: 'silent' })
const oa: OutgoingMessage = { text: 'IOC Hue: Cảnh báo mới', zaloUserId: 'zu-1001' }
const ok = requirePostgres()
let prov: StandIns

/** Nodes' Zalo OA channels, each with its own renewals in flight, one per token store. */
function nodesOn(stores: ProviderTokenStore[]) {
  const cfg = Value.Default(NotifySection, standInConfig(prov)) as NotifyConfig
  return stores.map((s) => channelsFromConfig(cfg, s).zalo_oa!)
}

async function expiredTogether(nodes: ReturnType<typeof nodesOn>) {
  expect(await nodes[0]!.send(oa, 'first')).toMatchObject({ ok: true })
  prov.zalo.expire()
  const refreshes = prov.zalo.refreshes
  const results = await Promise.all(nodes.flatMap((n, i) => [n.send(oa, `${i}a`), n.send(oa, `${i}b`)]))
  return { results, refreshes: prov.zalo.refreshes - refreshes }
}

describe.skipIf(!ok)('Zalo tokens shared by the nodes of a cluster', () => {
  const server = usePostgres()

  it('in PostgreSQL: an expired token is renewed once for both nodes, and every message goes out', async () => {
    prov = await startStandIns()
    const url = await server.createDatabase()
    const pools = [openPgPool(url, { logger, max: 3 }), openPgPool(url, { logger, max: 3 })]
    try {
      const nodes = nodesOn([await openPostgresTokenStore(pools[0]!), await openPostgresTokenStore(pools[1]!)])
      const { results, refreshes } = await expiredTogether(nodes)
      expect(results.map((r) => r.ok)).toEqual([true, true, true, true])
      expect(refreshes).toBe(1)
      expect(prov.received.filter((r) => r.provider === 'zalo_oauth').map((r) => r.answer)).toEqual(['refreshed', 'refreshed'])
    } finally {
      for (const p of pools) await p.end()
      await prov.close()
    }
  }, 60_000)

  it('each in its own alerts.db (the single-node store): the second node renews with a spent token and is refused', async () => {
    prov = await startStandIns()
    const dirs = [tempDir(), tempDir()]
    const dbs = dirs.map((d) => openNotifyDb(d.path))
    try {
      const nodes = nodesOn([sqliteTokenStore(dbs[0]!.db), sqliteTokenStore(dbs[1]!.db)])
      const { results } = await expiredTogether(nodes)
      expect(results.some((r) => !r.ok)).toBe(true)
      expect(prov.received.some((r) => r.provider === 'zalo_oauth' && r.answer !== 'refreshed')).toBe(true)
    } finally {
      for (const d of dbs) d.release()
      for (const d of dirs) d.remove()
      await prov.close()
    }
  }, 60_000)

  it('a single node moved to cluster mode brings its current pair, not the configured one it spent', async () => {
    prov = await startStandIns()
    const dir = tempDir()
    const pool = openPgPool(await server.createDatabase(), { logger, max: 3 })
    try {
      const db = openNotifyDb(dir.path)
      const [alone] = nodesOn([sqliteTokenStore(db.db)])
      expect(await alone!.send(oa, 'before')).toMatchObject({ ok: true })
      db.release()
      prov.zalo.expire()
      const [clustered] = nodesOn([await openPostgresTokenStore(pool, alertsDbTokens(dir.path))])
      expect(await clustered!.send(oa, 'after')).toMatchObject({ ok: true })
      expect(prov.received.filter((r) => r.provider === 'zalo_oauth').map((r) => r.answer)).toEqual(['refreshed', 'refreshed'])
    } finally {
      await pool.end()
      dir.remove()
      await prov.close()
    }
  }, 60_000)
})
