import type pg from 'pg'
import { migratePg } from '../../pg/migrate.ts'
import { detectionPage, NO_CURSOR, type DetectionLog } from '../detection-log.ts'
import { VISION_PG_MIGRATIONS, VISION_PG_MIGRATIONS_TABLE } from './migrations.ts'
import { seedDetectionsFromFile, type DetectionsSeedOptions } from './seed.ts'

/**
 * The detection log in PostgreSQL (cluster mode, docs/operations.md "Cameras across nodes"): one
 * log for every node, so a camera's records are listed whole through any node, also after its
 * lease moved. Applies the migrations and seeds from this node's vision.sqlite (`seed`, seed.ts;
 * each once across nodes) first. close() leaves the pool, which belongs to the caller.
 */
export async function openPostgresDetectionLog(
  pool: pg.Pool,
  opts: { nodeId: string; seed?: DetectionsSeedOptions | undefined },
): Promise<DetectionLog> {
  await migratePg(pool, VISION_PG_MIGRATIONS, VISION_PG_MIGRATIONS_TABLE)
  if (opts.seed) await seedDetectionsFromFile(pool, opts.nodeId, opts.seed)
  return {
    async put(rec, tsMs, sql = pool) {
      await sql.query(
        `INSERT INTO vision_detections (camera, ts, node, record) VALUES ($1, $2, $3, $4)
         ON CONFLICT (camera, ts) DO UPDATE SET node = EXCLUDED.node, record = EXCLUDED.record`,
        [rec.camera, tsMs, opts.nodeId, JSON.stringify(rec)],
      )
    },
    async list(camera, from, to, limit, after = NO_CURSOR) {
      const res = await pool.query<{ ts: string; record: string }>(
        `SELECT ts, record FROM vision_detections WHERE camera = $1 AND ts >= $2 AND ts < $3 AND ts > $4 ORDER BY ts LIMIT $5`,
        [camera, from, to, after, limit + 1],
      )
      return detectionPage(res.rows, limit)
    },
    // Every node prunes once an hour, each from its own start: after the first, the others find
    // next to nothing older than the bound, and the index on ts keeps finding it cheap.
    async prune(beforeMs) {
      return (await pool.query('DELETE FROM vision_detections WHERE ts < $1', [beforeMs])).rowCount ?? 0
    },
    close() {},
  }
}
