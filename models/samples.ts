import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import Type, { type Static } from 'typebox'
import Value from 'typebox/value'
import { schemaProblem } from '../gateway/util/schema-error.ts'
import { FETCH_HINT, MODELS_HOME, searchDirs } from './manifest.ts'

// Sample photos for `models verify`, the demo and the tests: public photos listed with their real
// download URL and sha256 (samples.json), fetched by `iocgw models fetch` into <models>/samples.

const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' })

export const SampleSchema = Type.Object({
  file: Type.String({ pattern: '^[A-Za-z0-9_.-]+\\.jpg$' }),
  bytes: Type.Integer({ minimum: 1 }),
  sha256: Sha256,
  url: Type.String({ pattern: '^https://' }),
  /**
   * The download is not the file itself but its source: scaled to `width` (aspect kept) and
   * re-encoded as JPEG at `jpegQuality` by sharp. `bytes`/`sha256` here are the download's.
   */
  derive: Type.Optional(
    Type.Object({
      bytes: Type.Integer({ minimum: 1 }),
      sha256: Sha256,
      width: Type.Integer({ minimum: 1 }),
      jpegQuality: Type.Integer({ minimum: 1, maximum: 100 }),
    }),
  ),
  about: Type.String(),
  licence: Type.String({ minLength: 1 }),
})
export type Sample = Static<typeof SampleSchema>

const SamplesFile = Type.Object({ dir: Type.Literal('samples'), files: Type.Array(SampleSchema) })

let cached: Sample[] | undefined

/** The sample photos of models/samples.json, checked against their schema. */
export function loadSamples(): Sample[] {
  if (cached) return cached
  const path = join(MODELS_HOME, 'samples.json')
  const data: unknown = JSON.parse(readFileSync(path, 'utf8'))
  if (!Value.Check(SamplesFile, data)) {
    const first = schemaProblem(Value.Errors(SamplesFile, data), { skip: [] })
    throw new Error(`${path}: ${first ? `${first.key} ${first.message}` : 'invalid'}`)
  }
  cached = data.files
  return cached
}

/** The samples folders, `samples/` beside each folder the models are looked up in, in that order. */
export function sampleDirs(modelsDir?: string | undefined): string[] {
  return searchDirs(modelsDir).map((d) => join(d, 'samples'))
}

/**
 * A file of the samples folder (a photo, or the reference results expected.json), looked up in
 * the same folders as the models (IOC_MODELS_DIR, models/, ../shared/models); null when absent.
 */
export function findSample(name: string, modelsDir?: string | undefined): string | null {
  for (const dir of sampleDirs(modelsDir)) {
    const path = join(dir, name)
    if (existsSync(path)) return path
  }
  return null
}

/** As findSample, but a missing file is an error that says how to get it. */
export function samplePath(name: string, modelsDir?: string | undefined): string {
  const path = findSample(name, modelsDir)
  if (path) return path
  const where = sampleDirs(modelsDir).join(', ')
  throw new Error(`sample ${name} not found in ${where}; ${FETCH_HINT}`)
}
