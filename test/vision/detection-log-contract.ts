import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { DetectionLog, DetectionRecord } from '../../gateway/vision/detection-log.ts'

// The detection log's contract (gateway/vision/detection-log.ts), run on every implementation:
// vision.sqlite of one node (detection-log-sqlite.test.ts) and PostgreSQL of a cluster
// (detection-log-postgres.test.ts). GET /api/v1/cameras/:id/detections answers what list() gives.

export interface DetectionLogFixture {
  log: DetectionLog
  /** Closes everything and deletes the storage. */
  dispose(): Promise<void>
}

export const T0 = Date.parse('2026-11-20T00:00:00Z')

/** A record of `camera` captured at `ts`, with `cars` cars, every optional part filled. */
export function record(camera: string, ts: number, cars = 1): DetectionRecord {
  const counts = { car: cars, motorcycle: 2, bus: 0, truck: 1, bicycle: 0 }
  return {
    ts: new Date(ts).toISOString(),
    camera,
    counts,
    objects: [
      { class: 'car', score: 0.871, box: [10, 20, 110, 95] },
      { class: 'truck', score: 0.5, box: [200, 40, 380, 210] },
    ],
    water_ratio: 0.2355,
    zones: [
      { zone: 'street', counts, occupancy: 0.42, congestion: 2 },
      { zone: 'river', counts: { car: 0, motorcycle: 0, bus: 0, truck: 0, bicycle: 0 }, occupancy: 0, congestion: 0, water_ratio: 0.2355 },
    ],
  }
}

export function detectionLogContract(name: string, open: () => Promise<DetectionLogFixture>): void {
  describe(`detection log contract: ${name}`, () => {
    let f: DetectionLogFixture
    beforeEach(async () => {
      f = await open()
    }, 60_000)
    afterEach(async () => {
      await f.dispose()
    })
    const put = (camera: string, ts: number, cars = 1) => f.log.put(record(camera, ts, cars), ts)
    const times = async (camera: string, from: number, to: number, limit = 100, after?: number) =>
      (await f.log.list(camera, from, to, limit, after)).items.map((r) => Date.parse(r.ts))

    it('answers a record as it was put', async () => {
      await put('cam-1', T0)
      expect(await f.log.list('cam-1', T0, T0 + 1, 10)).toEqual({ items: [record('cam-1', T0)], next: null })
    })

    it('keeps one record per (camera, ts): a replayed frame overwrites its own, another camera at the same instant is its own', async () => {
      await put('cam-1', T0, 1)
      await put('cam-2', T0, 7)
      await put('cam-1', T0, 3)
      expect((await f.log.list('cam-1', T0, T0 + 1, 10)).items).toEqual([record('cam-1', T0, 3)])
      expect((await f.log.list('cam-2', T0, T0 + 1, 10)).items).toEqual([record('cam-2', T0, 7)])
    })

    it("lists one camera's records oldest first, from inclusive and to exclusive", async () => {
      for (const dt of [3000, 0, 2000, 1000, 4000]) await put('cam-1', T0 + dt)
      await put('cam-2', T0 + 500)
      expect(await times('cam-1', T0, T0 + 10_000)).toEqual([T0, T0 + 1000, T0 + 2000, T0 + 3000, T0 + 4000])
      expect(await times('cam-1', T0 + 1000, T0 + 3000)).toEqual([T0 + 1000, T0 + 2000])
      expect(await times('cam-1', T0 + 4001, T0 + 10_000)).toEqual([])
      expect(await times('cam-3', T0, T0 + 10_000)).toEqual([])
    })

    it('pages by limit, each page giving the cursor of the next; the last gives none', async () => {
      for (let i = 0; i < 5; i++) await put('cam-1', T0 + i * 1000)
      const first = await f.log.list('cam-1', T0, T0 + 10_000, 2)
      expect(first.items.map((r) => Date.parse(r.ts))).toEqual([T0, T0 + 1000])
      expect(first.next).toBe(String(T0 + 1000))
      const second = await f.log.list('cam-1', T0, T0 + 10_000, 2, Number(first.next))
      expect(second.items.map((r) => Date.parse(r.ts))).toEqual([T0 + 2000, T0 + 3000])
      const last = await f.log.list('cam-1', T0, T0 + 10_000, 2, Number(second.next))
      expect(last).toEqual({ items: [record('cam-1', T0 + 4000)], next: null })
      // Exactly `limit` left: no next page.
      expect((await f.log.list('cam-1', T0 + 3000, T0 + 10_000, 2)).next).toBeNull()
      // The cursor and the time range together: after the cursor and inside the range.
      expect(await times('cam-1', T0 + 2000, T0 + 4000, 10, T0)).toEqual([T0 + 2000, T0 + 3000])
    })

    it('prunes the records of every camera captured before the bound, and says how many', async () => {
      for (const cam of ['cam-1', 'cam-2']) for (let i = 0; i < 3; i++) await put(cam, T0 + i * 1000)
      expect(await f.log.prune(T0 + 1000)).toBe(2)
      expect(await times('cam-1', 0, T0 + 10_000)).toEqual([T0 + 1000, T0 + 2000])
      expect(await times('cam-2', 0, T0 + 10_000)).toEqual([T0 + 1000, T0 + 2000])
      expect(await f.log.prune(T0 + 1000)).toBe(0)
    })
  })
}
