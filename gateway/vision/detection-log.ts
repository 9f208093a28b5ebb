import Database from 'better-sqlite3'
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

/**
 * Detection records with their boxes, for GET /cameras/:id/detections. The time-series store holds
 * the counts for dashboards; boxes do not belong there (data-model.md), so they are kept here for
 * `retentionDays`. An interface so a shared store can replace the embedded one on several nodes.
 */
export interface DetectionLog {
  /** Idempotent per (camera, ts): a replayed frame overwrites its own record. */
  put(rec: DetectionRecord, tsMs: number): void
  list(camera: string, from: number, to: number, limit: number, after?: number): { items: DetectionRecord[]; next: string | null }
  prune(beforeMs: number): number
  close(): void
}

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
    put(rec, tsMs) {
      put.run(rec.camera, tsMs, JSON.stringify(rec))
    },
    list(camera, from, to, limit, after = -Infinity) {
      const rows = list.all(camera, from, to, Number.isFinite(after) ? after : -1e15, limit + 1) as Array<{ ts: number; record: string }>
      const more = rows.length > limit
      const page = more ? rows.slice(0, limit) : rows
      return {
        items: page.map((r) => JSON.parse(r.record) as DetectionRecord),
        next: more ? String(page[page.length - 1]!.ts) : null,
      }
    },
    prune(beforeMs) {
      return prune.run(beforeMs).changes
    },
    close() {
      db.close()
    },
  }
}
