import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import type { Alerting } from '../../gateway/alerts/engine.ts'
import type { Logger } from '../../gateway/log/logger.ts'
import { openClusterRules, type ClusterRules } from '../../gateway/alerts/postgres/rules-store.ts'
import { parseRules, type RulesDoc } from '../../gateway/alerts/rules.ts'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { requirePostgres, usePostgres } from '../support/postgres.ts'
import { capturingLogger } from '../support/log-lines.ts'
import { waitFor } from '../support/services.ts'
import { gauge, metrics, quietLogger } from '../alerts/helpers.ts'
import { openPgNode } from '../alerts/pg-node.ts'

// The rules of a cluster (docs/operations.md "Rules across nodes"): one document in a real
// PostgreSQL 15 for every node. A PUT on one node is what every other node answers and
// evaluates with; nodes starting together seed it once; concurrent PUTs lose nothing.

const T0 = Date.now() - 3_600_000
const logger = pino({ level: 'silent' })

/** Kim Long's levels [I, II, III] (docs/domain: config/stations.yaml has 1.0, 2.0, 3.5). */
const rulesWith = (levels: number[]): RulesDoc =>
  parseRules({
    version: 1,
    rules: [{ id: 'wl', type: 'water_alarm', hysteresis_m: 0.1, min_duration_s: 0, levels: { 'kim-long': levels } }],
  })

interface Node {
  alerting: Alerting
  rules: ClusterRules
  close(): Promise<void>
}

/**
 * One node wired as gateway/app.ts does: its own data directory and pool, the shared database.
 * `own`: its rules are its own (a <dataDir>/rules.yaml from running alone), not the shipped file.
 */
async function node(url: string, seed: RulesDoc, syncMs?: number, own = false, logger: Logger = quietLogger()): Promise<Node> {
  const pgNode = await openPgNode(url)
  const rules = await openClusterRules(pgNode.pool, {
    nodeId: pgNode.dataDir,
    logger,
    metrics: metrics(),
    seed: () => ({ doc: seed, own }),
    syncMs,
  })
  const alerting = pgNode.alerting({ rules: rules.initial, rulesStore: rules })
  rules.follow((doc) => alerting.applyRules(doc))
  return {
    alerting,
    rules,
    async close() {
      await rules.close()
      await alerting.close()
      await pgNode.release()
    },
  }
}

const levelsOf = (n: Node) => (n.alerting.rules().rules[0] as { levels?: Record<string, number[]> }).levels?.['kim-long']

describe.skipIf(!requirePostgres())('rules shared by the nodes of a cluster', () => {
  const server = usePostgres()

  it('nodes starting together on an empty database seed it once, from the first node', async () => {
    const url = await server.createDatabase()
    const nodes = await Promise.all([
      node(url, rulesWith([10, 20, 30])),
      node(url, rulesWith([11, 21, 31])),
      node(url, rulesWith([12, 22, 32])),
    ])
    try {
      const first = levelsOf(nodes[0]!)
      expect(nodes.map(levelsOf)).toEqual([first, first, first])
      const pool = openPgPool(url, { logger })
      const rows = (await pool.query<{ version: number; changed_by: string }>('SELECT version, changed_by FROM alert_rules')).rows
      await pool.end()
      expect(rows).toHaveLength(1)
      expect(rows[0]).toMatchObject({ version: 1, changed_by: expect.stringMatching(/^shipped:/) })
    } finally {
      for (const n of nodes) await n.close()
    }
  })

  it('the rules a node brings from running alone replace the shipped ones a node started before it wrote, and nothing set since', async () => {
    const url = await server.createDatabase()
    const shipped = rulesWith([100, 101, 102])
    const a = await node(url, shipped, 3_600_000)
    const { logger, lines } = capturingLogger()
    const nodes = [a]
    try {
      // B ran alone with Kim Long's levels replaced through PUT: those become the cluster's, and A
      // applies them as it would a PUT (LISTEN/NOTIFY; no periodic re-read within the test).
      nodes.push(await node(url, rulesWith([1, 2, 3.5]), 3_600_000, true))
      expect(levelsOf(nodes[1]!)).toEqual([1, 2, 3.5])
      await waitFor(() => levelsOf(a)?.[0] === 1, 30_000)
      // A third node with rules of its own, after that: the cluster's stay, and it says so.
      nodes.push(await node(url, rulesWith([5, 6, 7]), 3_600_000, true, logger))
      expect(levelsOf(nodes[2]!)).toEqual([1, 2, 3.5])
      expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([expect.stringContaining('rules.yaml was not copied')])
      const pool = openPgPool(url, { logger: pino({ level: 'silent' }) })
      const rows = (
        await pool.query<{ version: number; changed_by: string }>('SELECT version, changed_by FROM alert_rules ORDER BY version')
      ).rows
      await pool.end()
      expect(rows.map((r) => [r.version, r.changed_by.split(':')[0]])).toEqual([
        [1, 'shipped'],
        [2, 'seed'],
      ])
    } finally {
      for (const n of nodes) await n.close()
    }
  })

  it('a PUT on A is answered by B and B evaluates with it (LISTEN/NOTIFY, no periodic re-read)', async () => {
    const url = await server.createDatabase()
    // Levels far above any reading: no alert until the new rules arrive.
    const a = await node(url, rulesWith([100, 101, 102]), 3_600_000)
    const b = await node(url, rulesWith([100, 101, 102]), 3_600_000)
    try {
      await b.alerting.handleReading(gauge('kim-long', T0, 2.5))
      expect((await b.alerting.list({}, { limit: 10 })).items).toHaveLength(0)

      const next = rulesWith([1, 2, 3.5])
      await a.alerting.replaceRules(next, 'admin-hue')
      expect(levelsOf(a)).toEqual([1, 2, 3.5])
      await waitFor(() => levelsOf(b)?.[0] === 1, 30_000)
      expect(b.alerting.rules()).toEqual(next)

      await b.alerting.handleReading(gauge('kim-long', T0 + 60_000, 2.5))
      const items = (await b.alerting.list({}, { limit: 10 })).items
      expect(items.map((x) => [x.station, x.level])).toEqual([['kim-long', 2]])

      const pool = openPgPool(url, { logger })
      const rows = (
        await pool.query<{ version: number; changed_by: string }>('SELECT version, changed_by FROM alert_rules ORDER BY version')
      ).rows
      await pool.end()
      expect(rows.map((r) => [r.version, r.changed_by.startsWith('shipped:') ? 'shipped' : r.changed_by])).toEqual([
        [1, 'shipped'],
        [2, 'admin-hue'],
      ])
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('the periodic re-read applies a change whose notification was missed', async () => {
    const url = await server.createDatabase()
    const a = await node(url, rulesWith([100, 101, 102]), 200)
    try {
      // Written by a writer that does not notify (as while A's LISTEN connection is down).
      const pool = openPgPool(url, { logger })
      await pool.query("INSERT INTO alert_rules (version, doc, changed_by) VALUES (2, $1, 'psql')", [JSON.stringify(rulesWith([5, 6, 7]))])
      await pool.end()
      await waitFor(() => levelsOf(a)?.[0] === 5, 30_000)
    } finally {
      await a.close()
    }
  })

  it('concurrent PUTs on two nodes both get a version and every node ends on the last one', async () => {
    const url = await server.createDatabase()
    const a = await node(url, rulesWith([100, 101, 102]))
    const b = await node(url, rulesWith([100, 101, 102]))
    try {
      await Promise.all([
        a.alerting.replaceRules(rulesWith([1, 2, 3]), 'admin-a'),
        b.alerting.replaceRules(rulesWith([4, 5, 6]), 'admin-b'),
      ])
      const pool = openPgPool(url, { logger })
      const rows = (
        await pool.query<{ version: number; changed_by: string; doc: RulesDoc }>(
          'SELECT version, changed_by, doc FROM alert_rules ORDER BY version',
        )
      ).rows
      await pool.end()
      expect(rows.map((r) => r.version)).toEqual([1, 2, 3])
      expect(
        rows
          .slice(1)
          .map((r) => r.changed_by)
          .sort(),
      ).toEqual(['admin-a', 'admin-b'])
      // The document written last wins on both nodes, whichever node wrote it.
      const last = (rows[2]!.doc.rules[0] as { levels: Record<string, number[]> }).levels['kim-long']
      await waitFor(() => levelsOf(a)?.[0] === last?.[0] && levelsOf(b)?.[0] === last?.[0], 30_000)
      expect([levelsOf(a), levelsOf(b)]).toEqual([last, last])
    } finally {
      await a.close()
      await b.close()
    }
  })
})
