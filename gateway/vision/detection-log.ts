import Database from 'better-sqlite3'
import type pg from 'pg'
import Type, { type Static } from 'typebox'

const Box = Type.Tuple([Type.Number(), Type.Number(), Type.Number(), Type.Number()], {
  description: '[x1, y1, x2, y2] in source-frame pixels',
})
const Counts = Type.Object(
  { car: Type.Integer(), motorcycle: Type.Integer(), bus: Type.Integer(), truck: Type.Integer(), bicycle: Type.Integer() },
  { additionalProperties: false },
)
/** The detection record of docs/api.md "Cameras": counts over the whole camera (all counting zones), objects in frame pixels. One schema for the log and the API's answer. */
export const DetectionRecordSchema = Type.Object(
  {
    ts: Type.String({ format: 'date-time', description: 'Capture time of the frame' }),
    camera: Type.String(),
    counts: Counts,
    objects: Type.Array(Type.Object({ class: Type.String(), score: Type.Number(), box: Box }, { additionalProperties: false })),
    water_ratio: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1, description: 'Share of the flood zone covered by water (frames where the segmenter ran)' }),
    ),
    zones: Type.Optional(
      Type.Array(
        Type.Object(
          {
            zone: Type.String(),
            counts: Counts,
            occupancy: Type.Number(),
            congestion: Type.Integer({ minimum: 0, maximum: 3 }),
            water_ratio: Type.Optional(Type.Number()),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false },
)
export type DetectionRecord = Static<typeof DetectionRecordSchema>

/** One page of a camera's records, oldest first; `next` is the cursor of the page after it. */
export interface DetectionPage {
  items: DetectionRecord[]
  next: string | null
}

/** A PostgreSQL connection to write through: the fencing transaction's (cluster mode). */
export type DetectionSql = Pick<pg.PoolClient, 'query'>

/**
 * Detection records with their boxes, for GET /cameras/:id/detections. The time-series store holds
 * the counts for dashboards; boxes do not belong there (data-model.md), so they are kept here for
 * `retentionDays`: in `<dataDir>/vision.sqlite` on one node, in PostgreSQL shared by every node in
 * cluster mode (postgres/detection-log.ts), so any node lists any camera's records.
 */
export interface DetectionLog {
  /**
   * Idempotent per (camera, ts): a replayed frame overwrites its own record. `sql`, in cluster mode,
   * is the camera lease's fencing transaction: the record commits with the token check or not at
   * all, on the connection the transaction already holds rather than a second one from the pool.
   */
  put(rec: DetectionRecord, tsMs: number, sql?: DetectionSql): Promise<void>
  /** Records with from <= ts < to and ts > after, oldest first, at most `limit`. */
  list(camera: string, from: number, to: number, limit: number, after?: number): Promise<DetectionPage>
  /** Deletes the records older than `beforeMs`; answers how many. */
  prune(beforeMs: number): Promise<number>
  close(): void
}

/** A page of at most `limit` from rows fetched with `limit + 1`: the extra row says there is a next page. */
export function detectionPage(rows: ReadonlyArray<{ ts: number | string; record: string }>, limit: number): DetectionPage {
  const more = rows.length > limit
  const page = more ? rows.slice(0, limit) : rows
  return {
    items: page.map((r) => JSON.parse(r.record) as DetectionRecord),
    next: more ? String(page[page.length - 1]!.ts) : null,
  }
}

/** The lower bound of `ts > after` when no cursor was given: before any capture time. */
export const NO_CURSOR = -1e15

export function openDetectionLog(path: string): DetectionLog {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(`CREATE TABLE IF NOT EXISTS vision_detections (
    camera TEXT NOT NULL, ts INTEGER NOT NULL, record TEXT NOT NULL, PRIMARY KEY (camera, ts)
  ) WITHOUT ROWID`)
  const put = db.prepare('INSERT OR REPLACE INTO vision_detections (camera, ts, record) VALUES (?, ?, ?)')
  const list = db.prepare('SELECT ts, record FROM vision_detections WHERE camera = ? AND ts >= ? AND ts < ? AND ts > ? ORDER BY ts LIMIT ?')
  const prune = db.prepare('DELETE FROM vision_detections WHERE ts < ?')
  return {
    async put(rec, tsMs) {
      put.run(rec.camera, tsMs, JSON.stringify(rec))
    },
    async list(camera, from, to, limit, after = NO_CURSOR) {
      return detectionPage(list.all(camera, from, to, after, limit + 1) as Array<{ ts: number; record: string }>, limit)
    },
    async prune(beforeMs) {
      return prune.run(beforeMs).changes
    },
    close() {
      db.close()
    },
  }
}
