import { nms, type Detection } from '../nms.ts'
import { decodeYolox, letterboxInto } from '../yolox.ts'
import { gridFromPlanar } from '../motion.ts'
import { openSession, ort } from './onnx.ts'
import { undecodable, type Detector, type PluginOptions } from './types.ts'

/** YOLOX (grid output, decode_in_inference off) on onnxruntime-node, CPU. */
export async function createYoloxOnnx(opts: PluginOptions): Promise<Detector> {
  const { session, manifest } = await openSession(opts.model, opts.modelsDir, opts.threads)
  if (manifest.output.format !== 'yolox-grid') throw new Error(`model ${opts.model} is not a YOLOX grid detector`)
  const shape = manifest.input.shape
  const size = shape[2]!
  const pad = manifest.input.letterbox?.pad ?? 114
  const inputName = manifest.input.name
  const outputName = manifest.output.name
  // Two input buffers, reused: the pool gives a worker two frames at a time, so one frame is
  // decoded and letterboxed while the other is in session.run (which runs one at a time).
  const slots = [0, 1].map(() => {
    const buf = new Float32Array(3 * size * size)
    return { buf, tensor: new ort.Tensor('float32', buf, shape) }
  })
  const free = [...slots]
  const waiting: Array<(s: (typeof slots)[number]) => void> = []
  const acquire = () => (free.length ? Promise.resolve(free.pop()!) : new Promise<(typeof slots)[number]>((r) => waiting.push(r)))
  const release = (s: (typeof slots)[number]) => {
    const w = waiting.shift()
    if (w) w(s)
    else free.push(s)
  }
  let running: Promise<unknown> = Promise.resolve()
  let lastRunMs = 0
  async function infer(tensor: ort.Tensor): Promise<Float32Array> {
    const run = running.then(async () => {
      const t0 = performance.now()
      const out = await session.run({ [inputName]: tensor })
      lastRunMs = performance.now() - t0
      return out
    })
    running = run.catch(() => undefined)
    const out = await run
    return out[outputName]!.data as Float32Array
  }

  return {
    type: 'yolox-onnx',
    inputSize: size,
    // Parameters as Detector.detect declares them (types.ts).
    async detect(decoder, frame, regions, t, gate, pixels) {
      const all: Detection[] = []
      const slot = await acquire()
      const buf = slot.buf
      try {
        for (const region of regions) {
          let t0 = performance.now()
          if (!pixels) t.jpegDecodes++
          const lb = await letterboxInto(decoder, frame, region, size, pad, buf, pixels).catch((err: unknown) => {
            throw undecodable(err)
          })
          if (gate && region === null && !gate(gridFromPlanar(buf, size, lb.nw, lb.nh))) {
            t.preprocessMs += performance.now() - t0
            return null
          }
          let t1 = performance.now()
          t.preprocessMs += t1 - t0
          const out = await infer(slot.tensor)
          t0 = performance.now()
          // session.run itself, not the wait for the other frame's run.
          t.inferMs += lastRunMs
          all.push(...decodeYolox(out, manifest, lb, frame, opts.scoreThreshold))
          t1 = performance.now()
          t.postprocessMs += t1 - t0
        }
      } finally {
        release(slot)
      }
      const t0 = performance.now()
      const merged = nms(all, opts.nmsIou, regions.length > 1 ? opts.nmsIos : 1.01)
      t.postprocessMs += performance.now() - t0
      return merged
    },
    async runRaw() {
      const slot = await acquire()
      try {
        await infer(slot.tensor)
        return lastRunMs
      } finally {
        release(slot)
      }
    },
    async close() {
      await session.release()
    },
  }
}
