// Three real gateway processes started at the same instant on one empty PostgreSQL database
// (docs/operations.md "Several nodes", "Schema"): the migrations queue on the advisory lock, so
// the schema is made once, every version recorded once, every node becomes ready, and no node logs
// an error (a lost race would show as a duplicate-table or unique-violation error, or a node that
// does not start). The server key file they share (server.keyFile, as docker-compose.yml's nodes
// do) is missing at the start: one key is made, and every node hashes with it.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLUSTER_MIGRATIONS, CLUSTER_MIGRATIONS_TABLE } from '../../gateway/cluster/migrations.ts'
import { REGISTRY_PG_MIGRATIONS, REGISTRY_PG_MIGRATIONS_TABLE } from '../../gateway/registry/postgres/migrations.ts'
import { errorLines, haveClusterServices, startClusterServices, type ClusterNode, type ClusterServices } from '../support/cluster-nodes.ts'
import { waitFor } from '../support/services.ts'

const NODES = ['node-1', 'node-2', 'node-3']

describe.skipIf(!haveClusterServices())('three nodes started at once on an empty database', () => {
  let c: ClusterServices
  let nodes: ClusterNode[] = []

  beforeAll(async () => {
    c = await startClusterServices()
  }, 120_000)
  afterAll(async () => {
    await c?.stop()
  }, 120_000)

  it('makes one schema, and every node is ready without an error in its log', async () => {
    const db = new pg.Client({ connectionString: c.pgUrl })
    await db.connect()
    try {
      const before = await db.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'")
      expect(before.rows[0].n).toBe(0)
    } finally {
      await db.end()
    }

    nodes = await Promise.all(NODES.map((id) => c.spawnNode(id)))
    for (const n of nodes) {
      await waitFor(async () => (await c.readyz(n)).status === 200, 120_000, 250)
      expect(n.gw.child.exitCode).toBeNull()
    }

    const check = new pg.Client({ connectionString: c.pgUrl })
    await check.connect()
    try {
      const versions = async (table: string) =>
        (await check.query<{ version: number }>(`SELECT version FROM "${table}" ORDER BY version`)).rows.map((r) => r.version)
      expect(await versions(CLUSTER_MIGRATIONS_TABLE)).toEqual(CLUSTER_MIGRATIONS.map((m) => m.version))
      expect(await versions(REGISTRY_PG_MIGRATIONS_TABLE)).toEqual(REGISTRY_PG_MIGRATIONS.map((m) => m.version))
      // Every capability's tracking table holds each version once (its primary key) and one row per version.
      const tracking = await check.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name LIKE '%schema_migrations'",
      )
      for (const { table_name } of tracking.rows) {
        const { rows } = await check.query<{ n: number; d: number }>(
          `SELECT count(*)::int AS n, count(DISTINCT version)::int AS d FROM "${table_name}"`,
        )
        expect(rows[0]!.n, table_name).toBe(rows[0]!.d)
      }
      const peers = await check.query<{ node_id: string }>('SELECT node_id FROM cluster_nodes ORDER BY node_id')
      expect(peers.rows.map((r) => r.node_id)).toEqual(NODES)
      const keys = await check.query<{ n: number }>('SELECT count(*)::int AS n FROM registry_server_key')
      expect(keys.rows[0]!.n).toBe(1)
    } finally {
      await check.end()
    }

    // Each node sees the three live nodes and serves the shared registry.
    for (const n of nodes) {
      await waitFor(async () => /3 live node/.test((await c.readyz(n)).body.checks.postgres?.detail ?? ''), 30_000, 250)
      expect((await c.api(n, 'GET', '/devices')).status).toBe(200)
    }
    for (const n of nodes) expect(errorLines(n.gw.output()), n.id).toEqual([])
  }, 600_000)
})
