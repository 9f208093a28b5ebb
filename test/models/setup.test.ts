import { readdirSync } from 'node:fs'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { fetchItems } from '../../models/fetch.ts'
import { sha256File } from '../../models/manifest.ts'
import setup, { missingFiles } from '../support/models-setup.ts'
import { startModelsMirror } from '../support/models-mirror.ts'
import { freePort, tempDir } from '../support/services.ts'

// The test suite's global set-up on a clone without the model files and sample photos (an empty
// IOC_MODELS_DIR with the fallbacks off): it fetches them, or, without network, stops at once
// saying what to run.

let mirror: Awaited<ReturnType<typeof startModelsMirror>>
beforeAll(async () => {
  mirror = await startModelsMirror()
})
afterAll(() => mirror?.close())

const saved = { ...process.env }
const dirs: Array<{ remove(): void }> = []
afterEach(() => {
  for (const k of ['IOC_MODELS_DIR', 'IOC_MODELS_FALLBACKS', 'IOC_MODELS_BASE_URL', 'CI']) {
    if (saved[k] === undefined) delete process.env[k]
    else process.env[k] = saved[k]
  }
})
afterAll(() => dirs.forEach((d) => d.remove()))

function freshClone(base: string): string {
  const d = tempDir('iocgw-setup-')
  dirs.push(d)
  Object.assign(process.env, { IOC_MODELS_DIR: d.path, IOC_MODELS_FALLBACKS: '0', IOC_MODELS_BASE_URL: base })
  delete process.env.CI
  return d.path
}

describe('test set-up on a clone without model files', () => {
  it('fetches every missing model file and sample photo into IOC_MODELS_DIR', async () => {
    const dir = freshClone(`${mirror.base}/files`)
    expect(await missingFiles()).toHaveLength(fetchItems().length)
    await setup()
    expect(await missingFiles()).toEqual([])
    for (const i of fetchItems()) expect(await sha256File(`${dir}/${i.target}`)).toBe(i.sha256)
  })

  it('without network, fails at the first file with the command to run, leaving nothing behind', async () => {
    const dir = freshClone(`http://127.0.0.1:${await freePort()}/`)
    await expect(setup()).rejects.toThrow(
      /could not be downloaded \(yolox_nano: cannot download .*ECONNREFUSED.*\)\. Run `iocgw models fetch`/,
    )
    expect(readdirSync(dir)).toEqual([])
  })

  it('in CI, the reference results must be there too (a comparison must not skip quietly)', async () => {
    freshClone(`${mirror.base}/files`)
    await setup() // the downloadable files; expected.json has no public source
    process.env.CI = 'true'
    await expect(setup()).rejects.toThrow(/samples\/expected.json \(reference results\) not found/)
  })
})
