import { createHash } from 'node:crypto'
import { createReadStream, existsSync, readFileSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import Type, { type Static } from 'typebox'
import Value from 'typebox/value'
import { PACKAGE_ROOT } from '../gateway/util/package-root.ts'
import { schemaProblem } from '../gateway/util/schema-error.ts'

// A manifest says exactly how a model is fed and decoded, and where its file is downloaded from
// (docs/vision.md, "Models"); the weights themselves are never committed: `iocgw models fetch`
// downloads them, the resolver finds them on disk and checks their sha256.

export const PROJECT_ROOT = PACKAGE_ROOT
const here = join(PROJECT_ROOT, 'models')
/** The project root (this file lives in <root>/models). */

const Tensor = Type.Object({
  name: Type.String({ minLength: 1 }),
  dtype: Type.Union([Type.Literal('float32'), Type.Literal('uint8'), Type.Literal('int32')]),
  shape: Type.Array(Type.Integer({ minimum: 1 })),
})

export const ManifestSchema = Type.Object({
  id: Type.String({ pattern: '^[a-z0-9_]+$' }),
  task: Type.Union([Type.Literal('detection'), Type.Literal('segmentation')]),
  file: Type.String({ pattern: '^[A-Za-z0-9_.-]+\\.onnx$' }),
  bytes: Type.Integer({ minimum: 1 }),
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  source: Type.Object({
    /** The file itself (a raw download, not a web page about it); `iocgw models fetch` reads it. */
    url: Type.String({ pattern: '^https://' }),
    /** Where a person reads about the file (repository, commit). */
    page: Type.Optional(Type.String({ pattern: '^https://' })),
    upstream: Type.String(),
  }),
  licence: Type.String({ minLength: 1 }),
  input: Type.Intersect([
    Tensor,
    Type.Object({
      layout: Type.Union([Type.Literal('NCHW'), Type.Literal('NHWC')]),
      colour: Type.Union([Type.Literal('RGB'), Type.Literal('BGR')]),
      scaling: Type.String(),
      resize: Type.String(),
      letterbox: Type.Optional(Type.Object({ position: Type.Literal('top-left'), pad: Type.Integer({ minimum: 0, maximum: 255 }) })),
    }),
  ]),
  output: Type.Intersect([
    Tensor,
    Type.Object({
      format: Type.Union([Type.Literal('yolox-grid'), Type.Literal('class-id-per-pixel')]),
      strides: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }))),
      scoreThreshold: Type.Optional(Type.Number()),
      countThreshold: Type.Optional(Type.Number()),
      nms: Type.Optional(Type.Object({ iou: Type.Number(), classAgnostic: Type.Boolean() })),
    }),
  ]),
  classes: Type.Array(Type.String()),
  vehicleClasses: Type.Optional(Type.Record(Type.String(), Type.Integer())),
  waterClasses: Type.Optional(Type.Record(Type.String(), Type.Integer())),
})

export type ModelManifest = Static<typeof ManifestSchema>

export const MODEL_IDS = ['yolox_nano', 'deeplabv3_mnv2_ade20k_uint8'] as const
export type ModelId = (typeof MODEL_IDS)[number]

const cache = new Map<string, ModelManifest>()

/** Loads and checks a manifest from models/<id>.json. */
export function loadManifest(id: string): ModelManifest {
  const hit = cache.get(id)
  if (hit) return hit
  if (!/^[a-z0-9_]+$/.test(id)) throw new Error(`model id "${id}" is not a valid id`)
  const path = join(here, `${id}.json`)
  if (!existsSync(path)) throw new Error(`no manifest for model "${id}" (expected ${path}); known: ${MODEL_IDS.join(', ')}`)
  const data: unknown = JSON.parse(readFileSync(path, 'utf8'))
  if (!Value.Check(ManifestSchema, data)) {
    const first = schemaProblem(Value.Errors(ManifestSchema, data), { skip: [] })
    throw new Error(`manifest ${path}: ${first ? `${first.key} ${first.message}` : 'invalid'}`)
  }
  cache.set(id, data)
  return data
}

/** The models folder of the project: `iocgw models fetch` writes here unless told otherwise. */
export const MODELS_HOME = here

/** The hint every "model missing" message ends with. */
export const FETCH_HINT = 'run `iocgw models fetch` (or set IOC_MODELS_DIR to a folder holding the files)'

/**
 * Where the weights (and samples/) are looked for, in order: IOC_MODELS_DIR (or the given dir),
 * models/, ../shared/models. IOC_MODELS_FALLBACKS=0 keeps only the first, so that a deployment
 * (or a test) uses exactly the folder it names.
 */
export function searchDirs(modelsDir?: string | undefined): string[] {
  const dirs: string[] = []
  const first = modelsDir ?? process.env.IOC_MODELS_DIR
  if (first) dirs.push(isAbsolute(first) ? first : resolve(process.cwd(), first))
  if (!first || process.env.IOC_MODELS_FALLBACKS !== '0') dirs.push(here, resolve(PROJECT_ROOT, '..', 'shared', 'models'))
  return [...new Set(dirs)]
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer)
  return h.digest('hex')
}

export interface ResolvedModel {
  manifest: ModelManifest
  path: string
  sha256: string
}

/**
 * Finds the model file and checks its sha256. A file with the right name but the wrong hash is
 * reported (never silently used) and the search goes on, so a stale copy in models/ does not hide
 * the good one in the shared directory.
 */
export async function resolveModel(id: string, modelsDir?: string | undefined): Promise<ResolvedModel> {
  const manifest = loadManifest(id)
  const problems: string[] = []
  for (const dir of searchDirs(modelsDir)) {
    const path = join(dir, manifest.file)
    if (!existsSync(path)) {
      problems.push(`${path}: not found`)
      continue
    }
    const sha256 = await sha256File(path)
    if (sha256 !== manifest.sha256) {
      problems.push(`${path}: sha256 ${sha256} does not match the manifest's ${manifest.sha256}`)
      continue
    }
    return { manifest, path, sha256 }
  }
  throw new Error(`model ${id} (${manifest.file}) not usable: ${problems.join('; ')}. To get it, ${FETCH_HINT}.`)
}

/**
 * The models that cannot be used (missing, or with the wrong sha256), each with the reason; an
 * empty list when all are there. Checked before the vision workers start, so that a clone without
 * weights runs with vision off instead of failing.
 */
export async function unusableModels(
  ids: readonly string[],
  modelsDir?: string | undefined,
): Promise<Array<{ id: string; file: string; reason: string }>> {
  const out: Array<{ id: string; file: string; reason: string }> = []
  for (const id of ids) {
    try {
      await resolveModel(id, modelsDir)
    } catch (err) {
      out.push({ id, file: loadManifest(id).file, reason: (err as Error).message })
    }
  }
  return out
}
