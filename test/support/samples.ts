import { existsSync, readFileSync } from 'node:fs'
import { findSample, samplePath } from '../../models/samples.ts'

// The one place tests find the sample photos: the same lookup as the models (IOC_MODELS_DIR,
// models/, ../shared/models). `iocgw models fetch` puts them in models/samples; the test set-up
// (test/support/models-setup.ts) runs it when they are missing.

export { findSample, samplePath }

/** The bytes of a sample photo; throws with "run iocgw models fetch" when it is missing. */
export const sample = (name: string): Buffer => readFileSync(samplePath(name))

/**
 * The reference results of the sample photos (samples/expected.json: counts, boxes and water
 * ratios of the reference pipeline). They come with the project's reference model set only (no
 * public URL), so tests comparing against them skip without it, except in CI, where the set-up
 * requires it.
 */
export function referenceResults<T>(): T | null {
  const path = findSample('expected.json')
  return path && existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : null
}
