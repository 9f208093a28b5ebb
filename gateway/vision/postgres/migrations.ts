import type { PgMigration } from '../../pg/migrate.ts'

/** The vision capability's own tracking table in PostgreSQL (gateway/pg/migrate.ts applies each version once across nodes). */
export const VISION_PG_MIGRATIONS_TABLE = 'vision_schema_migrations'

// Append-only: a released migration is never edited, a change is a new entry. The detection log
// of vision.sqlite (capture time in epoch ms, the record's JSON kept as written, so every node
// answers it byte for byte as one node does), plus the node that analysed the frame, for an
// operator tracing a record to a node's workers. The primary key serves the list (one camera, a
// time range in order); the index on ts serves the prune, which spans every camera.
export const VISION_PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE vision_detections (
        camera text NOT NULL,
        ts bigint NOT NULL,
        node text NOT NULL,
        record text NOT NULL,
        PRIMARY KEY (camera, ts)
      );
      CREATE INDEX vision_detections_ts ON vision_detections (ts);
    `,
  },
  {
    // Which node copied its own vision.sqlite records in, and how many (seed.ts, docs/operations.md
    // "Cameras across nodes"): seeded once across nodes. Whether the log is already in use is asked
    // at the copy, under the seed's lock, not here: records may come in after this version, before
    // the node with the file starts.
    version: 2,
    sql: `
      CREATE TABLE vision_detections_seeded (
        node text NOT NULL,
        detections integer NOT NULL,
        at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
]
