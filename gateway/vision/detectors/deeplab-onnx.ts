import sharp, { type Sharp } from 'sharp'
import type { RawFrame } from '../yolox.ts'
import { openSession, ort } from './onnx.ts'
import type { PluginOptions, Segmenter, Timings } from './types.ts'

/** DeepLabV3 (ADE20K, 32 classes, uint8 NHWC in, int32 ArgMax out) as its manifest (models/deeplabv3_mnv2_ade20k_uint8.json) and docs/vision.md "Models" say. */
export async function createDeeplabOnnx(opts: Pick<PluginOptions, 'model' | 'modelsDir' | 'threads'>): Promise<Segmenter> {
  const { session, manifest } = await openSession(opts.model, opts.modelsDir, opts.threads)
  if (manifest.output.format !== 'class-id-per-pixel') throw new Error(`model ${opts.model} is not a segmenter`)
  const shape = manifest.input.shape
  const h = shape[1]!
  const w = shape[2]!
  const buf = new Uint8Array(w * h * 3)
  const tensor = new ort.Tensor('uint8', buf, shape)
  const water = Object.values(manifest.waterClasses ?? {})

  // Frames may overlap in a worker: one segmentation at a time (it shares its input buffer).
  let busy: Promise<unknown> = Promise.resolve()
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const p = busy.then(f)
    busy = p.catch(() => undefined)
    return p
  }

  async function infer(): Promise<Int32Array> {
    const out = await session.run({ [manifest.input.name]: tensor })
    return out[manifest.output.name]!.data as Int32Array
  }

  return {
    type: 'deeplab-onnx',
    waterClasses: water,
    segment(decoder: () => Sharp, t: Timings, pixels?: RawFrame) {
      return serial(() => segmentNow(decoder, t, pixels))
    },
    runRaw() {
      return serial(async () => {
        const t0 = performance.now()
        await infer()
        return performance.now() - t0
      })
    },
    async close() {
      await session.release()
    },
  }

  async function segmentNow(decoder: () => Sharp, t: Timings, pixels: RawFrame | undefined) {
    let t0 = performance.now()
    // Whole frame to 512x512 ignoring aspect ratio, raw RGB bytes, no normalisation.
    if (!pixels) t.jpegDecodes++
    const src = pixels ? sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels: 3 } }) : decoder()
    const data = await src.resize(w, h, { fit: 'fill', kernel: 'linear' }).removeAlpha().raw().toBuffer()
    buf.set(data)
    let t1 = performance.now()
    t.preprocessMs += t1 - t0
    const out = await infer()
    t0 = performance.now()
    t.inferMs += t0 - t1
    const classes = new Uint8Array(out.length)
    for (let i = 0; i < out.length; i++) classes[i] = out[i]!
    t1 = performance.now()
    t.postprocessMs += t1 - t0
    return { width: w, height: h, classes }
  }
}
