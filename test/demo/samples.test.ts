import { copyFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { samplesDir } from '../../gateway/demo/field.ts'
import { PROJECT_ROOT } from '../../models/manifest.ts'
import { tempDir } from '../support/services.ts'

// The demo's cameras find the sample photos where the models are found (models/manifest.ts
// searchDirs), whatever the working directory: a demo started elsewhere must not stay dark.

const SHARED_SAMPLES = join(PROJECT_ROOT, '..', 'shared', 'models', 'samples')

describe('demo sample photos', () => {
  const cwd = process.cwd()
  const dirs: Array<{ remove(): void }> = []
  afterEach(() => {
    process.chdir(cwd)
    for (const d of dirs.splice(0)) d.remove()
  })

  it('are found beside the models from any working directory', () => {
    const elsewhere = tempDir()
    dirs.push(elsewhere)
    process.chdir(elsewhere.path)
    const found = samplesDir(undefined)
    expect(found.dir).toBe(SHARED_SAMPLES)
    expect(found.searched).toContain(join(PROJECT_ROOT, 'models', 'samples'))
  })

  it('the models directory given comes first; one without photos is passed over', () => {
    const mine = tempDir()
    const empty = tempDir()
    dirs.push(mine, empty)
    mkdirSync(join(mine.path, 'samples'))
    copyFileSync(join(SHARED_SAMPLES, 'flood_lagos_2019.jpg'), join(mine.path, 'samples', 'flood.jpg'))
    expect(samplesDir(mine.path).dir).toBe(join(mine.path, 'samples'))
    mkdirSync(join(empty.path, 'samples'))
    const fallback = samplesDir(empty.path)
    expect(fallback.searched[0]).toBe(join(empty.path, 'samples'))
    expect(fallback.dir).toBe(SHARED_SAMPLES)
  })
})
