import { sample } from '../support/samples.ts'
import Value from 'typebox/value'
import { createAlerting } from '../../gateway/alerts/engine.ts'
import type { Reading } from '../../gateway/bus/events.ts'
import { loadStations } from '../../gateway/domain/stations.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import type { DeviceKind } from '../../gateway/registry/types.ts'
import { openTimeSeriesStore } from '../../gateway/store/index.ts'
import { valuesAtReadings } from '../../gateway/store/derived-view.ts'
import { DERIVED_CARRIERS, type FieldValue, type TimeSeriesStore } from '../../gateway/store/types.ts'
import { createVision, VisionSection } from '../../gateway/vision/index.ts'
import type { Influxd } from '../support/influxd.ts'
import { CAMERA_ZONES, SAMPLE_PHOTOS } from './field.ts'
import { tempDir } from '../support/services.ts'

// When the simulated field's short run leaves `alerts` or `detections` empty (no alarm level
// held for its minimum duration yet, no camera frame), the board test still wants those points:
// these run the same capabilities in process (createAlerting with config/rules.yaml and
// config/stations.yaml; createVision with the real models on the shared sample photos) over what
// the field stored, writing through the real InfluxDB store (openTimeSeriesStore) as the gateway
// does. queries.test.ts says which way each measurement was filled.

async function withStore<T>(influxUrl: string, fn: (store: TimeSeriesStore) => Promise<T>): Promise<T> {
  const dir = tempDir('iocgw-dash-store-')
  const store = await openTimeSeriesStore({ influxUrl, dataDir: dir.path, logger: createLogger('silent'), metrics: new Metrics() })
  try {
    return await fn(store)
  } finally {
    await store.close()
    dir.remove()
  }
}

/** Runs the alert engine over every stored reading in event time; answers the changes written. */
export async function fillAlertsWithEngine(influxd: Influxd, db: string): Promise<number> {
  return withStore(influxd.urlFor(db), async (store) => {
    const dir = tempDir('iocgw-dash-alerts-')
    const writes: Array<Promise<void>> = []
    const alerting = createAlerting({
      dataDir: dir.path,
      logger: createLogger('silent'),
      metrics: new Metrics(),
      stations: loadStations('config/stations.yaml'),
      rulesFile: 'config/rules.yaml',
      annotate: (p) => {
        const w = store.write([p])
        writes.push(w)
        return w
      },
      silenceCheckMs: 3_600_000,
    })
    try {
      const r = await influxd.query('SELECT * FROM "readings" ORDER BY time ASC', db)
      const s = r.results[0]?.series?.[0]
      if (!s) return 0
      const at = (name: string) => s.columns.indexOf(name)
      const skip = new Set(['time', 'device', 'kind', 'station', 'district', 'seq', 'aqi_dominant'])
      // Each reading's derived values, as the bus carried them, from `derived` (docs/data-model.md).
      const dr = (await influxd.query('SELECT * FROM "derived" ORDER BY time ASC', db)).results[0]?.series?.[0]
      const timed = (cols: string[], rows: unknown[][], device: string) =>
        rows
          .filter((row) => row[cols.indexOf('device')] === device)
          .map((row) => ({
            ts: row[0] as number,
            fields: Object.fromEntries(cols.flatMap((c, i) => (i > 0 && row[i] !== null ? [[c, row[i] as FieldValue]] : []))),
          }))
      const derivedAt = new Map<string, Record<string, FieldValue>>()
      for (const device of new Set(s.values.map((row) => String(row[at('device')])))) {
        const readings = timed(s.columns, s.values, device)
        const derived = dr ? timed(dr.columns, dr.values, device) : []
        for (const metric of Object.keys(DERIVED_CARRIERS))
          for (const v of valuesAtReadings(readings, derived, metric)) {
            const key = `${device}@${v.ts}`
            derivedAt.set(key, { ...derivedAt.get(key), [metric]: v.value })
          }
      }
      for (const row of s.values) {
        const values: Record<string, number> = {}
        s.columns.forEach((c, i) => {
          if (!skip.has(c) && typeof row[i] === 'number') values[c] = row[i] as number
        })
        const reading: Reading = {
          device: String(row[at('device')]),
          kind: String(row[at('kind')]) as DeviceKind,
          station: (row[at('station')] as string | null) || null,
          district: (row[at('district')] as string | null) || null,
          ts: row[0] as number,
          seq: typeof row[at('seq')] === 'number' ? (row[at('seq')] as number) : null,
          values,
          late: false,
        }
        const { aqi_dominant: dominant, ...derivedValues } = derivedAt.get(`${reading.device}@${reading.ts}`) ?? {}
        for (const [k, v] of Object.entries(derivedValues)) if (typeof v === 'number') values[k] = v
        if (typeof dominant === 'string') reading.aqi_dominant = dominant
        await alerting.handleReading(reading)
      }
      await alerting.flush()
      // annotate runs after each change's commit, on a resolved promise.
      await new Promise((res) => setTimeout(res, 50))
      await Promise.all(writes)
      return writes.length
    } finally {
      await alerting.close()
      dir.remove()
    }
  })
}

export const VISION_CAMERA = 'cam-cau-truong-tien'

/**
 * Runs vision (the real detector and segmenter) over the sample photos as frames of one
 * camera with two counting zones and a flood zone; answers the detection points written.
 */
export async function fillDetectionsWithVision(influxd: Influxd, db: string, station: string): Promise<number> {
  const photos = SAMPLE_PHOTOS
  return withStore(influxd.urlFor(db), async (store) => {
    const config = Value.Default(VisionSection, {
      flood: { everyMs: 0 },
      motion: { enabled: false },
      cameras: {
        [VISION_CAMERA]: {
          zones: CAMERA_ZONES,
        },
      },
    }) as Parameters<typeof createVision>[0]['config']
    let written = 0
    const vision = createVision({
      sink: async (points) => {
        written += points.length
        const { toStorePoint } = await import('../../gateway/vision/store-sink.ts')
        await store.write(points.map(toStorePoint))
      },
      logger: createLogger('silent'),
      metrics: new Metrics(),
      config,
      dataDir: ':memory:',
    })
    try {
      await vision.whenReady()
      const now = Date.now()
      for (const [i, f] of photos.entries()) {
        vision.pipeline.submit({ camera: VISION_CAMERA, station, district: null, ts: now - (photos.length - i) * 60_000, jpeg: sample(f) })
        await vision.pipeline.settled()
      }
      return written
    } finally {
      await vision.close()
    }
  })
}
