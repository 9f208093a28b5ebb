import type pg from 'pg'
import type { Logger } from '../../log/logger.ts'
import type { Metrics } from '../../metrics/registry.ts'
import { migratePg, type PgMigration } from '../../pg/migrate.ts'
import { parseRules, type RulesDoc } from '../rules.ts'
import { lockForTransaction } from '../../pg/advisory-lock.ts'
import { followChannel, type Follower } from '../../pg/follow.ts'
import { inTransaction } from '../../pg/transaction.ts'

// The alert rules of a cluster (docs/operations.md "Rules across nodes"): one document in
// PostgreSQL for every node, each version kept with who wrote it. A PUT on any node writes the
// next version and NOTIFYs; every node follows the table (pg/follow.ts), then applies the
// document the way a single node applies its own PUT (engine.ts applyRules).

export const RULES_PG_MIGRATIONS_TABLE = 'rules_schema_migrations'

// Append-only: a released migration is never edited, a change is a new entry.
export const RULES_PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE alert_rules (
        version INTEGER PRIMARY KEY,
        doc JSONB NOT NULL,
        changed_by TEXT NOT NULL,
        changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
      )`,
  },
]

const CHANNEL = 'iocgw_rules'

/** Writers of the rules (seed and PUTs on every node) serialise on this transaction-scoped lock. */
const LOCK = 'iocgw:alert_rules'

export interface ClusterRulesOptions {
  nodeId: string
  logger: Logger
  metrics: Metrics
  /**
   * This node's rules, written when PostgreSQL has none yet: `own` when they are its own
   * (<dataDir>/rules.yaml, replaced through PUT while it ran alone), not the shipped file.
   */
  seed: () => { doc: RulesDoc; own: boolean }
  /** How often the current version is re-read, the safety net under LISTEN; default 5 s. */
  syncMs?: number | undefined
}

export interface ClusterRules {
  /** The document in force when opened (the engine starts with it). */
  readonly initial: RulesDoc
  /** Writes `doc` as the next version and applies it here before answering (a PUT). */
  save(doc: RulesDoc, by: string): Promise<void>
  /** Starts following other nodes' changes; `apply` is the engine's applyRules. */
  follow(apply: (doc: RulesDoc) => Promise<void>): void
  /** Re-reads the current version now and applies it if newer (also run every syncMs). */
  sync(): Promise<void>
  close(): Promise<void>
}

interface Row {
  version: number
  doc: unknown
  changed_by: string
}

/** changed_by of a version 1 written from the shipped rules file, which a node's own rules may replace. */
const SHIPPED = 'shipped:'

/**
 * Migrates, seeds once (under the writers' lock, so nodes starting together seed once), and reads.
 * As the other first-start copies (docs/operations.md "Moving a single gateway to a cluster"):
 * the rules a node brings from running alone win over the shipped ones another node, started a
 * moment before, wrote as version 1; never over rules set since.
 */
export async function openClusterRules(pool: pg.Pool, opts: ClusterRulesOptions): Promise<ClusterRules> {
  await migratePg(pool, RULES_PG_MIGRATIONS, RULES_PG_MIGRATIONS_TABLE)
  const log = opts.logger.child({ component: 'rules' })
  const version = opts.metrics.gauge(
    'alert_rules_version',
    'Version of the cluster rules document this node applies (PostgreSQL alert_rules)',
  )

  const inTx = <T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> =>
    inTransaction(pool, async (c) => {
      await lockForTransaction(c, LOCK)
      return fn(c)
    })
  const current = async (q: pg.Pool | pg.PoolClient): Promise<Row | undefined> =>
    (await q.query<Row>('SELECT version, doc, changed_by FROM alert_rules ORDER BY version DESC LIMIT 1')).rows[0]

  const first = await inTx(async (c): Promise<Pick<Row, 'version' | 'doc'>> => {
    const row = await current(c)
    const mine = opts.seed()
    const mark = `${mine.own ? 'seed:' : SHIPPED}${opts.nodeId}`
    if (row && !(mine.own && row.version === 1 && row.changed_by.startsWith(SHIPPED))) {
      if (mine.own && !(await c.query('SELECT 1 FROM alert_rules WHERE changed_by = $1', [mark])).rowCount)
        log.warn(
          { version: row.version, by: row.changed_by },
          "this node's rules.yaml was not copied into PostgreSQL: the cluster's rules were set already",
        )
      return row
    }
    const version = (row?.version ?? 0) + 1
    await c.query('INSERT INTO alert_rules (version, doc, changed_by) VALUES ($1, $2, $3)', [version, JSON.stringify(mine.doc), mark])
    // Nodes already running apply it as they would a PUT.
    if (row) await c.query('SELECT pg_notify($1, $2)', [CHANNEL, String(version)])
    log.info({ rules: mine.doc.rules.length, version, own: mine.own }, 'rules seeded into PostgreSQL from this node')
    return { version, doc: mine.doc }
  })
  const initial = parseRules(first.doc)
  let applied = first.version
  version.set(applied)

  // Applications run one at a time and only forward, so a slow older one never lands after a newer one.
  let chain: Promise<void> = Promise.resolve()
  let apply: ((doc: RulesDoc) => Promise<void>) | undefined
  const applyIfNewer = (v: number, doc: RulesDoc): Promise<void> => {
    const run = chain.then(async () => {
      if (v <= applied) return
      if (apply) await apply(doc)
      applied = v
      version.set(v)
    })
    chain = run.catch(() => undefined)
    return run
  }

  const sync = async (): Promise<void> => {
    const row = await current(pool)
    if (!row || row.version <= applied) return
    await applyIfNewer(row.version, parseRules(row.doc))
    log.info({ version: row.version }, 'rules changed on another node applied')
  }

  let follower: Follower | undefined

  return {
    initial,
    async save(doc, by) {
      const v = await inTx(async (c) => {
        const next = ((await current(c))?.version ?? 0) + 1
        await c.query('INSERT INTO alert_rules (version, doc, changed_by) VALUES ($1, $2, $3)', [next, JSON.stringify(doc), by])
        // Delivered to every listener when this transaction commits.
        await c.query('SELECT pg_notify($1, $2)', [CHANNEL, String(next)])
        return next
      })
      await applyIfNewer(v, doc)
    },
    follow(fn) {
      apply = fn
      follower = followChannel(pool, CHANNEL, {
        reread: sync,
        everyMs: opts.syncMs ?? 5_000,
        log,
        what: 'cluster rules',
        metrics: opts.metrics,
        failures: {
          name: 'alert_rules_sync_failures_total',
          help: 'Failed reads or applications of the cluster rules document (the next periodic re-read retries)',
        },
      })
    },
    sync,
    async close() {
      await follower?.close()
      await chain
    },
  }
}
