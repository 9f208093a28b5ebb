import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type pg from 'pg'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import type { Logger } from '../../gateway/log/logger.ts'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { openDetectionLog, type DetectionLog, type DetectionRecord } from '../../gateway/vision/detection-log.ts'
import { openPostgresDetectionLog } from '../../gateway/vision/postgres/detection-log.ts'
import { SEED_BATCH } from '../../gateway/vision/postgres/seed.ts'
import { useCleanups } from '../support/cleanups.ts'
import { capturingLogger } from '../support/log-lines.ts'
import { requirePostgres, usePostgres } from '../support/postgres.ts'
import { tempDir } from '../support/services.ts'
import { record } from './detection-log-contract.ts'

// A single-process gateway moved to a cluster (docs/operations.md "Cameras across nodes"): the
// first node to open the shared detection log copies its own vision.sqlite in, once across nodes
// and in batches (gateway/vision/postgres/seed.ts), so a camera's past records are still listed,
// through any node. Records past the retention are left behind.

const NOW = Date.parse('2026-11-27T00:00:00Z')
const DAY = 86_400_000
const RETENTION = 7 * DAY
const CAMERAS = ['cam-cau-truong-tien', 'cam-kim-long', 'cam-phu-oc']
/** Per camera: a frame every 5 minutes over 2 days, more than a batch over all. */
const PER_CAMERA = 576
const quiet = pino({ level: 'silent' })

/** vision.sqlite of a node that ran alone: PER_CAMERA recent records per camera, and two past the retention. */
function singleNode(dataDir: string): void {
  const log = openDetectionLog(join(dataDir, 'vision.sqlite'))
  for (const camera of CAMERAS)
    for (let i = 0; i < PER_CAMERA; i++) {
      const ts = NOW - 2 * DAY + i * 300_000 + CAMERAS.indexOf(camera)
      void log.put(record(camera, ts, i % 7), ts)
    }
  for (const ts of [NOW - 8 * DAY, NOW - RETENTION - 1]) void log.put(record(CAMERAS[0]!, ts), ts)
  log.close()
}

/** Every record of a camera, page by page (limit 100 and the cursor, as the API pages). */
async function all(log: DetectionLog, camera: string, from = 0): Promise<DetectionRecord[]> {
  const out: DetectionRecord[] = []
  let after: number | undefined
  for (;;) {
    const page = await log.list(camera, from, NOW + DAY, 100, after)
    out.push(...page.items)
    if (!page.next) return out
    after = Number(page.next)
  }
}

describe.skipIf(!requirePostgres())('vision.sqlite seeded into the PostgreSQL detection log', () => {
  const server = usePostgres()
  const cleanup = useCleanups()

  const dataDir = () => {
    const d = tempDir()
    cleanup(() => d.remove())
    return d.path
  }
  const pool = (url: string) => {
    const p = openPgPool(url, { logger: quiet, max: 2 })
    cleanup(() => p.end())
    return p
  }
  /** A node's shared detection log, seeding from <dir>/vision.sqlite as gateway/app/vision.ts has it. */
  const open = (p: pg.Pool, dir: string, nodeId: string, logger: Logger = quiet) =>
    openPostgresDetectionLog(p, { nodeId, seed: { file: join(dir, 'vision.sqlite'), retentionMs: RETENTION, logger, now: () => NOW } })
  const seeded = async (p: pg.Pool) => (await p.query('SELECT node, detections FROM vision_detections_seeded')).rows as unknown[]
  const count = async (p: pg.Pool) => Number((await p.query<{ n: string }>('SELECT count(*) AS n FROM vision_detections')).rows[0]!.n)

  it('lists every camera as the single node did, within the retention, after a copy of several batches', async () => {
    expect(CAMERAS.length * PER_CAMERA).toBeGreaterThan(2 * SEED_BATCH)
    const dir = dataDir()
    singleNode(dir)
    const own = openDetectionLog(join(dir, 'vision.sqlite'))
    const before = new Map<string, DetectionRecord[]>()
    for (const camera of CAMERAS) before.set(camera, await all(own, camera, NOW - RETENTION))
    expect((await all(own, CAMERAS[0]!)).length).toBe(PER_CAMERA + 2)
    own.close()

    const { logger, lines } = capturingLogger()
    const p = pool(await server.createDatabase())
    const log = await open(p, dir, 'node-a', logger)
    for (const camera of CAMERAS) {
      expect(await all(log, camera)).toEqual(before.get(camera))
      expect(before.get(camera)).toHaveLength(PER_CAMERA)
    }
    const nodes = await p.query('SELECT DISTINCT node FROM vision_detections')
    expect(nodes.rows).toEqual([{ node: 'node-a' }])
    expect(lines.filter((l) => l.msg.includes('seeded into PostgreSQL'))).toMatchObject([{ detections: CAMERAS.length * PER_CAMERA }])
    // Counts only: no record, no camera.
    expect(JSON.stringify(lines)).not.toMatch(/cam-/)
  })

  it('three nodes starting at once, one with vision.sqlite: copied once, without error; not again after a deletion', async () => {
    const [withFile, b, c] = [dataDir(), dataDir(), dataDir()]
    singleNode(withFile)
    const url = await server.createDatabase()
    const [pa, pb, pc] = [pool(url), pool(url), pool(url)]
    await Promise.all([open(pb, b, 'node-b'), open(pa, withFile, 'node-a'), open(pc, c, 'node-c')])
    expect(await seeded(pa)).toEqual([{ node: 'node-a', detections: CAMERAS.length * PER_CAMERA }])
    expect(await count(pa)).toBe(CAMERAS.length * PER_CAMERA)
    expect(existsSync(join(b, 'vision.sqlite')) || existsSync(join(c, 'vision.sqlite'))).toBe(false)

    await pa.query('DELETE FROM vision_detections WHERE camera = $1', [CAMERAS[0]])
    await open(pa, withFile, 'node-a')
    expect(await count(pa)).toBe((CAMERAS.length - 1) * PER_CAMERA)
    expect(await seeded(pa)).toHaveLength(1)
  })

  it('a node without vision.sqlite, or with only records past the retention, records nothing; the node with records, after it, copies', async () => {
    const [withFile, without, stale] = [dataDir(), dataDir(), dataDir()]
    singleNode(withFile)
    const old = openDetectionLog(join(stale, 'vision.sqlite'))
    await old.put(record(CAMERAS[0]!, NOW - 8 * DAY), NOW - 8 * DAY)
    old.close()
    const url = await server.createDatabase()
    const p = pool(url)
    await open(p, without, 'node-b')
    await open(p, stale, 'node-c')
    expect(await seeded(p)).toEqual([])
    expect(await count(p)).toBe(0)
    expect(existsSync(join(without, 'vision.sqlite'))).toBe(false)
    await open(pool(url), withFile, 'node-a')
    expect(await seeded(p)).toEqual([{ node: 'node-a', detections: CAMERAS.length * PER_CAMERA }])
  })

  it('a log already in use gets nothing of vision.sqlite: recorded as seeded by (in use), with a warning', async () => {
    const [withFile, other] = [dataDir(), dataDir()]
    singleNode(withFile)
    const url = await server.createDatabase()
    const p = pool(url)
    const b = await open(p, other, 'node-b')
    await b.put(record('cam-hue-citadel', NOW), NOW)
    const { logger, lines } = capturingLogger()
    await open(pool(url), withFile, 'node-a', logger)
    expect(await count(p)).toBe(1)
    expect(await seeded(p)).toEqual([{ node: '(in use)', detections: 0 }])
    expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([expect.stringContaining('was not copied')])
  })
})
