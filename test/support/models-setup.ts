import { fetchModels } from '../../models/fetch.ts'
import { MODEL_IDS, MODELS_HOME, loadManifest, searchDirs, sha256File, unusableModels } from '../../models/manifest.ts'
import { findSample, loadSamples } from '../../models/samples.ts'

// vitest global set-up: the tests run the real models on real photos. On a clone that has neither
// (the weights are never in the repository), this runs `iocgw models fetch` for what is missing,
// into IOC_MODELS_DIR when set, else models/; without network it stops at once with the command to
// run, instead of every vision test waiting for models that never load.

export async function missingFiles(): Promise<string[]> {
  const missing = (await unusableModels(MODEL_IDS)).map((m) => m.id)
  for (const s of loadSamples()) {
    const path = findSample(s.file)
    if (!path || (await sha256File(path)) !== s.sha256) missing.push(s.file)
  }
  return missing
}

export default async function setup(): Promise<void> {
  const missing = await missingFiles()
  if (missing.length > 0) {
    const dir = process.env.IOC_MODELS_DIR || MODELS_HOME
    const names = missing.map((m) => (MODEL_IDS.includes(m as never) ? loadManifest(m).file : `samples/${m}`))
    process.stdout.write(
      `test set-up: ${names.join(', ')} not found in ${searchDirs().join(', ')}; running iocgw models fetch into ${dir}\n`,
    )
    const results = await fetchModels({
      dir,
      only: missing,
      failFast: true,
      timeoutMs: 120_000,
      progress: (l) => process.stdout.write(`  ${l}\n`),
    })
    const failed = results.filter((r) => r.status === 'failed')
    if (failed.length > 0 || results.length < missing.length) {
      throw new Error(
        `test set-up: the model files and sample photos the tests use are missing and could not be downloaded (${failed.map((f) => `${f.name}: ${f.error}`).join('; ')}). ` +
          'Run `iocgw models fetch` (with internet, or --from a mirror holding the files) and run the tests again.',
      )
    }
  }
  if (!findSample('expected.json')) {
    const where = searchDirs()
      .map((d) => `${d}/samples`)
      .join(', ')
    // CI has the reference model set: a comparison that silently skips there would hide a regression.
    if (process.env.CI === 'true')
      throw new Error(`test set-up: samples/expected.json (reference results) not found in ${where}; CI needs the reference model set`)
    process.stdout.write(
      `test set-up: samples/expected.json (reference results, not downloadable) not found in ${where}; the comparisons against it are skipped\n`,
    )
  }
}
