import { readFileSync } from 'node:fs'
import sharp from 'sharp'
import { MODEL_IDS, loadManifest, resolveModel, searchDirs } from './manifest.ts'
import { findSample } from './samples.ts'

export interface ModelCheck {
  id: string
  file: string
  ok: boolean
  path?: string
  sha256?: string
  /** First inference (includes session warm-up), ms. */
  firstMs?: number
  /** Median of the next runs, ms. */
  medianMs?: number
  /** What the inference found on the test frame (vehicles, or water share). */
  result?: string
  error?: string
}

/** A real photo when the samples are there (`iocgw models fetch`); otherwise a plain grey frame (timing only). */
async function testFrame(): Promise<Buffer> {
  const photo = findSample('coco_000000001532.jpg')
  if (photo) return readFileSync(photo)
  return sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 114, g: 114, b: 114 } } })
    .jpeg()
    .toBuffer()
}

/**
 * Finds each model (IOC_MODELS_DIR or modelsDir, then models/, then ../shared/models), checks its
 * sha256, opens an onnxruntime session, runs inference on a test frame and times it.
 */
export async function verifyModels(opts: { modelsDir?: string | undefined; runs?: number; threads?: number } = {}): Promise<ModelCheck[]> {
  const { Engine } = await import('../gateway/vision/engine.ts')
  const out: ModelCheck[] = []
  const jpeg = await testFrame()
  for (const id of MODEL_IDS) {
    const m = loadManifest(id)
    const check: ModelCheck = { id, file: m.file, ok: false }
    out.push(check)
    try {
      const r = await resolveModel(id, opts.modelsDir)
      check.path = r.path
      check.sha256 = r.sha256
      const det = m.task === 'detection'
      const engine = await Engine.open({
        detector: { type: 'yolox-onnx', model: det ? id : 'yolox_nano', scoreThreshold: 0.3, nmsIou: 0.45, nmsIos: 1 },
        segmenter: det ? null : { type: 'deeplab-onnx', model: id },
        modelsDir: opts.modelsDir,
        threads: opts.threads ?? 2,
      })
      try {
        const t0 = performance.now()
        const res = await engine.analyse({ jpeg, regions: det ? [null] : [], segment: !det })
        check.firstMs = round(performance.now() - t0)
        if (det) {
          const v = res.objects.filter((o) => ['car', 'motorcycle', 'bus', 'truck', 'bicycle'].includes(o.class) && o.score >= 0.5)
          check.result = `${v.length} vehicles at >= 0.5 (${v.map((o) => o.class).join(', ') || 'none'})`
        } else {
          const water = res.seg!.classes.reduce((s, c) => s + (c === 22 || c === 27 ? 1 : 0), 0) / res.seg!.classes.length
          check.result = `water share ${water.toFixed(3)}`
        }
        const times: number[] = []
        for (let i = 0; i < (opts.runs ?? 5); i++) times.push(det ? await engine.detector.runRaw() : await engine.segmenter!.runRaw())
        times.sort((a, b) => a - b)
        check.medianMs = round(times[Math.floor(times.length / 2)]!)
        check.ok = true
      } finally {
        await engine.close()
      }
    } catch (err) {
      check.error = err instanceof Error ? err.message : String(err)
    }
  }
  return out
}

/** The worker pool starts (TypeScript workers under tsx) and analyses one frame. */
export async function verifyPool(modelsDir?: string | undefined): Promise<{ ok: boolean; ms: number; error?: string }> {
  const { VisionPool } = await import('../gateway/vision/pool.ts')
  const t0 = performance.now()
  const pool = new VisionPool({
    workers: 1,
    detector: { type: 'yolox-onnx', model: 'yolox_nano', scoreThreshold: 0.3, nmsIou: 0.45, nmsIos: 1 },
    segmenter: null,
    modelsDir,
  })
  try {
    await pool.ready()
    await pool.analyse({ jpeg: await testFrame(), regions: [null], segment: false })
    return { ok: true, ms: round(performance.now() - t0) }
  } catch (err) {
    return { ok: false, ms: round(performance.now() - t0), error: err instanceof Error ? err.message : String(err) }
  } finally {
    await pool.close()
  }
}

export { searchDirs }

function round(v: number): number {
  return Math.round(v * 10) / 10
}
