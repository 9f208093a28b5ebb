import type Database from 'better-sqlite3'
import type pg from 'pg'
import type { Logger } from '../../log/logger.ts'
import { seedOnce } from '../../pg/seed-once.ts'
import { hasTable, openOwnFile } from '../../sqlite/own-file.ts'

// The first start of a cluster (docs/operations.md "Cameras across nodes"): the first node to open
// the shared detection log copies its own vision.sqlite records in, once across nodes, so a
// province moving from one node to a cluster still lists the cameras' past records. vision.sqlite's
// one table maps column for column (camera, ts, record: the JSON text as written, so the API
// answers it byte for byte); PostgreSQL's `node`, the node that analysed the frame, is this node,
// the only one that wrote the file. Records older than the retention are left behind: the next
// prune would delete them anyway.

const LOCK = 'iocgw:vision_detections_seed'
/** The record table (migrations.ts version 2). */
const RECORD = 'vision_detections_seeded'
/**
 * Records read and written at a time: a week of a busy camera fleet is far more than memory should
 * hold at once, and one record (its boxes) may be a few kB.
 */
export const SEED_BATCH = 500

export interface DetectionsSeedOptions {
  /** This node's vision.sqlite (<dataDir>/vision.sqlite). */
  file: string
  /** vision.retentionDays in ms: older records are not copied. */
  retentionMs: number
  logger: Logger
  now?: (() => number) | undefined
}

/**
 * vision.sqlite opened read-only, or undefined when it holds no record to copy: no file (never
 * created here), no table, or only records past the retention.
 */
function openOwn(file: string, since: number): Database.Database | undefined {
  return openOwnFile(
    file,
    (db) =>
      hasTable(db, 'vision_detections') && db.prepare('SELECT 1 FROM vision_detections WHERE ts >= ? LIMIT 1').get(since) !== undefined,
  )
}

/** The records from `since` on, SEED_BATCH at a time in primary-key order (camera, ts), each batch one INSERT. */
async function copyOwn(c: pg.PoolClient, db: Database.Database, nodeId: string, since: number): Promise<number> {
  const page = db.prepare(
    `SELECT camera, ts, record FROM vision_detections WHERE ts >= ? AND (camera, ts) > (?, ?) ORDER BY camera, ts LIMIT ${SEED_BATCH}`,
  )
  let after: [string, number] = ['', Number.MIN_SAFE_INTEGER]
  let n = 0
  for (;;) {
    const rows = page.all(since, ...after) as Array<{ camera: string; ts: number; record: string }>
    if (rows.length === 0) return n
    const last = rows[rows.length - 1]!
    after = [last.camera, last.ts]
    const res = await c.query(
      `INSERT INTO vision_detections (camera, ts, node, record)
       SELECT c, t, $4, r FROM unnest($1::text[], $2::bigint[], $3::text[]) AS x(c, t, r)`,
      [rows.map((r) => r.camera), rows.map((r) => r.ts), rows.map((r) => r.record), nodeId],
    )
    n += res.rowCount ?? 0
  }
}

/**
 * Copies this node's vision.sqlite into the shared detection log when no node has yet. Runs after
 * the vision migrations. A node with nothing to copy neither records nor creates anything: the
 * node that ran alone, started a moment later, still copies. A log already holding records with no
 * seed recorded (a cluster that ran before this version, or from nodes that had nothing to copy)
 * is recorded as seeded by '(in use)' and gets nothing. Logs counts, never records. Answers how
 * many were copied, or undefined.
 */
export async function seedDetectionsFromFile(pool: pg.Pool, nodeId: string, o: DetectionsSeedOptions): Promise<number | undefined> {
  const since = (o.now ?? Date.now)() - o.retentionMs
  const db = openOwn(o.file, since)
  if (!db) return undefined
  const log = o.logger.child({ component: 'vision' })
  try {
    // One read snapshot of vision.sqlite for the whole copy.
    db.exec('BEGIN')
    const counts = await seedOnce(pool, {
      lock: LOCK,
      record: RECORD,
      counts: ['detections'],
      nodeId,
      inUse: async (c) => (await c.query('SELECT 1 FROM vision_detections LIMIT 1')).rowCount !== 0,
      copy: async (c) => ({ detections: await copyOwn(c, db, nodeId, since) }),
      log,
      message: "camera detection records seeded into PostgreSQL from this node's vision.sqlite",
      source: 'vision.sqlite',
    })
    return counts?.detections
  } finally {
    db.close()
  }
}
