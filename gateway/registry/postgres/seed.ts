import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type pg from 'pg'
import type { Logger } from '../../log/logger.ts'
import { StartupError } from '../../net/listen.ts'
import { seededBy, seedOnce } from '../../pg/seed-once.ts'
import { openOwnFile } from '../../sqlite/own-file.ts'
import { SecretHasher } from '../secrets.ts'

// A single node moved to cluster mode keeps its registry (docs/operations.md "Registry in
// PostgreSQL"): the first node to start with a registry.db that was in use copies it into
// PostgreSQL, once across nodes (pg/seed-once.ts). Rows go as they are: ids (the API's links and
// cursors), the keyed hashes of device secrets, tokens and session ids (every node hashes with the
// same server.key, which the registry checks before this runs), scrypt password hashes, states,
// times, and the audit log with its ids and order. Only counts are logged: the rows hold hashes.

const LOCK = 'iocgw:registry_seed'
const RECORD = 'registry_seeded'
/** Rows per INSERT: a registry that ran for years has a long audit log. */
const CHUNK = 1_000

type Row = Record<string, unknown>
type Count = 'devices' | 'credentials' | 'tokens' | 'users' | 'sessions' | 'cameras' | 'audit'
type Counts = Record<Count, number>

/**
 * The tables as both sides hold them (../tables.ts, ../migrations.ts, ./migrations.ts): the same
 * columns, named here once. `json` columns are JSON text in SQLite and JSONB here; `flags` are 0/1
 * there and BOOLEAN here; BLOB hashes become BYTEA (by type, below). What only one side has is not
 * copied: SQLite's schema_migrations and sqlite_sequence (its own bookkeeping; audit_log's identity
 * is moved past the copied ids instead), and PostgreSQL's registry_server_key (the fingerprint the
 * registry wrote already) and this record.
 */
interface TableSpec {
  columns: string[]
  json?: string[]
  flags?: string[]
}
const TABLES = {
  devices: {
    columns: ['id', 'kind', 'name', 'station', 'district', 'lat', 'lon', 'tags', 'state', 'created_at', 'updated_at'],
    json: ['tags'],
  },
  device_credentials: { columns: ['device_id', 'secret_hash', 'created_at'] },
  api_tokens: { columns: ['id', 'name', 'role', 'token_hash', 'created_at', 'last_used_at'] },
  users: {
    columns: ['id', 'name', 'role', 'districts', 'stations', 'password_hash', 'disabled', 'created_at', 'updated_at', 'last_login_at'],
    json: ['districts', 'stations'],
    flags: ['disabled'],
  },
  user_sessions: { columns: ['id_hash', 'user_id', 'csrf_token', 'created_ms', 'last_seen_ms'] },
  camera_configs: { columns: ['camera', 'config', 'updated_at'], json: ['config'] },
  audit_log: { columns: ['id', 'ts', 'actor_type', 'actor_id', 'actor_name', 'action', 'target', 'detail'], json: ['detail'] },
} satisfies Record<string, TableSpec>
type Table = keyof typeof TABLES
type OwnRegistry = Record<Table, Row[]>

/**
 * The system actors of what a gateway writes into its registry by itself when it starts: the
 * bootstrap admin token (../bootstrap.ts) and gateway.yaml's camera configurations
 * (vision/camera-config.ts). A registry holding nothing else was never used, on either side.
 */
const START_ACTORS = ['bootstrap', 'gateway.yaml']
const startRow = (r: Row) => r.actor_type === 'system' && START_ACTORS.includes(String(r.actor_id))
const IN_USE_SQL = `SELECT EXISTS (SELECT 1 FROM devices) OR EXISTS (SELECT 1 FROM users)
  OR EXISTS (SELECT 1 FROM audit_log WHERE NOT (actor_type = 'system' AND actor_id = ANY($1))) AS in_use`

const inUse = async (db: pg.PoolClient): Promise<boolean> =>
  (await db.query<{ in_use: boolean }>(IN_USE_SQL, [START_ACTORS])).rows[0]!.in_use
const used = (own: OwnRegistry): boolean => own.devices.length > 0 || own.users.length > 0 || own.audit_log.some((r) => !startRow(r))

/**
 * This node's registry.db, read-only (one consistent read; nothing is written to it, and no file
 * is made where there was none); undefined without one. A registry.db of an earlier version is
 * read as it is, not migrated: a table it does not have yet has no rows, and audit_log.actor_name
 * (version 3) is null, as SQLite's version 3 left the older entries.
 */
function readOwnRegistry(dataDir: string): OwnRegistry | undefined {
  const db = openOwnFile(join(dataDir, 'registry.db'), () => true)
  if (!db) return undefined
  try {
    return db.transaction(() => {
      const read = (table: Table): Row[] => {
        const present = new Set((db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name))
        if (present.size === 0) return []
        const columns = TABLES[table].columns.map((c) => (present.has(c) ? c : `NULL AS ${c}`))
        return db.prepare(`SELECT ${columns.join(', ')} FROM ${table} ORDER BY rowid`).all() as Row[]
      }
      return Object.fromEntries(Object.keys(TABLES).map((t) => [t, read(t as Table)])) as OwnRegistry
    })()
  } finally {
    db.close()
  }
}

/** A row as json_populate_recordset reads it into the PostgreSQL table's own types. */
function pgRow(table: Table, r: Row): Row {
  const spec: TableSpec = TABLES[table]
  const out: Row = {}
  for (const [k, v] of Object.entries(r)) {
    if (Buffer.isBuffer(v)) out[k] = `\\x${v.toString('hex')}`
    else if (spec.json?.includes(k) && typeof v === 'string') out[k] = JSON.parse(v) as unknown
    else if (spec.flags?.includes(k)) out[k] = v === 1
    else out[k] = v
  }
  return out
}

/** Inserts `rows` in their order, a chunk per statement; answers what RETURNING gave. */
async function insert<T extends Row>(c: pg.PoolClient, table: Table, rows: Row[], tail: string): Promise<T[]> {
  const columns = TABLES[table].columns.join(', ')
  const out: T[] = []
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK).map((r) => pgRow(table, r))
    const res = await c.query<T>(
      `INSERT INTO ${table} (${columns}) ${table === 'audit_log' ? 'OVERRIDING SYSTEM VALUE' : ''}
       SELECT ${columns} FROM json_populate_recordset(NULL::${table}, $1) WITH ORDINALITY ORDER BY ordinality ${tail}`,
      [JSON.stringify(chunk)],
    )
    out.push(...res.rows)
  }
  return out
}

/**
 * Copies `own` into a registry that holds at most what nodes wrote by themselves at start. A row
 * that meets one already there keeps the one there (ON CONFLICT DO NOTHING: the bootstrap token of
 * the same IOC_ADMIN_TOKEN), and credentials and sessions go only with the devices and users this
 * copy inserted, so an old secret can never open another node's device of the same id. A camera
 * configuration replaces the one there: that came from gateway.yaml, this one was what the single
 * node ran with (changed through the API, perhaps). The audit log keeps its ids, so cursors held on
 * it still page; the few entries the nodes wrote at start move after it, in their order.
 */
async function copyOwn(c: pg.PoolClient, own: OwnRegistry): Promise<Counts> {
  // One long transaction on a first start, as migrations are (pg/migrate.ts): the pool's timeout would cut it.
  await c.query('SET LOCAL statement_timeout = 0')
  const devices = new Set((await insert<{ id: string }>(c, 'devices', own.devices, 'ON CONFLICT DO NOTHING RETURNING id')).map((r) => r.id))
  const credentials = own.device_credentials.filter((r) => devices.has(String(r.device_id)))
  await insert(c, 'device_credentials', credentials, 'ON CONFLICT DO NOTHING')
  const tokens = await insert(c, 'api_tokens', own.api_tokens, 'ON CONFLICT DO NOTHING RETURNING id')
  const users = new Set((await insert<{ id: string }>(c, 'users', own.users, 'ON CONFLICT DO NOTHING RETURNING id')).map((r) => r.id))
  const sessions = own.user_sessions.filter((r) => users.has(String(r.user_id)))
  await insert(c, 'user_sessions', sessions, 'ON CONFLICT DO NOTHING')
  const cameras = await insert(
    c,
    'camera_configs',
    own.camera_configs,
    'ON CONFLICT (camera) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at RETURNING camera',
  )
  if (own.audit_log.length > 0) {
    const moved = await c.query<Row>(
      'WITH gone AS (DELETE FROM audit_log RETURNING *) SELECT ts, actor_type, actor_id, actor_name, action, target, detail FROM gone ORDER BY id',
    )
    await insert(c, 'audit_log', own.audit_log, '')
    await c.query("SELECT setval(pg_get_serial_sequence('audit_log', 'id'), (SELECT max(id) FROM audit_log))")
    await c.query(
      `INSERT INTO audit_log (ts, actor_type, actor_id, actor_name, action, target, detail)
       SELECT ts, actor_type, actor_id, actor_name, action, target, detail
       FROM json_populate_recordset(NULL::audit_log, $1) WITH ORDINALITY ORDER BY ordinality`,
      [JSON.stringify(moved.rows)],
    )
  }
  return {
    devices: devices.size,
    credentials: credentials.length,
    tokens: tokens.length,
    users: users.size,
    sessions: sessions.length,
    cameras: cameras.length,
    audit: own.audit_log.length,
  }
}

/**
 * Stops a node whose registry.db was made with another key than the one it hashes with (its
 * server.keyFile names another file than the server.key beside registry.db): copied, its hashes
 * would lock out every device and token. Asked before the node records its key's fingerprint in
 * the cluster, so that, the key put right, it starts.
 */
export function assertRegistryKey(dataDir: string, hasher: SecretHasher): void {
  const beside = join(dataDir, 'server.key')
  if (!existsSync(beside) || !existsSync(join(dataDir, 'registry.db'))) return
  if (SecretHasher.fromKeyFile(beside).fingerprint() === hasher.fingerprint()) return
  const own = readOwnRegistry(dataDir)
  if (!own || !used(own)) return
  throw new StartupError(
    `registry: this node's registry.db was made with ${beside}, not with the key this node uses (server.keyFile). ` +
      'To bring this registry into the cluster, copy that file over the one server.keyFile names before its first start in cluster mode; ' +
      'otherwise move registry.db out of the data directory (docs/operations.md "Moving a single gateway to a cluster")',
  )
}

/**
 * Seeds the PostgreSQL registry from this node's registry.db, once across nodes. A node without a
 * registry.db, or with one that was never used (what a gateway writes at start is all it holds),
 * records nothing: the node that ran alone, started a moment later, still copies. A registry found
 * in use with no record (a cluster started before this existed, or without the node that ran
 * alone) is recorded as seeded by '(in use)' and nothing is copied: merging an old registry.db into
 * a registry in use would bring back devices and tokens since removed, next to their successors.
 * Once recorded, a node's registry.db is no longer read at its starts.
 */
export async function seedRegistryOnce(pool: pg.Pool, o: { dataDir: string; nodeId: string; logger: Logger }): Promise<void> {
  if (!existsSync(join(o.dataDir, 'registry.db'))) return
  // Once recorded, the file is not read again: a registry.db of years is not read at every start.
  if ((await seededBy(pool, RECORD)) !== undefined) return
  const own = readOwnRegistry(o.dataDir)
  if (!own || !used(own)) return
  await seedOnce(pool, {
    lock: LOCK,
    record: RECORD,
    counts: ['devices', 'credentials', 'tokens', 'users', 'sessions', 'cameras', 'audit'],
    nodeId: o.nodeId,
    inUse,
    copy: (c) => copyOwn(c, own),
    log: o.logger.child({ component: 'registry' }),
    message: "registry: seeded into PostgreSQL from this node's registry.db",
    source: 'registry.db',
  })
}
