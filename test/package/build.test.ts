import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { buildIsCurrent, writeBuildStamp } from '../../gateway/cli/build-check.js'
import { tempDir } from '../support/services.ts'

// gateway/cli/iocgw.js runs the compiled build/ only while it was made from exactly the sources on
// disk (docs/operations.md "First start"); otherwise the TypeScript sources, so an edited checkout never runs old code.

const dir = tempDir('iocgw-build-check-')
afterAll(() => dir.remove())

function tree(): string {
  const root = join(dir.path, Math.random().toString(36).slice(2))
  for (const d of ['gateway/cli', 'gateway/console/web', 'edge', 'dashboards', 'models', 'build'])
    mkdirSync(join(root, d), { recursive: true })
  writeFileSync(join(root, 'gateway/cli/main.ts'), 'export {}\n')
  writeFileSync(join(root, 'edge/main.ts'), 'export {}\n')
  writeFileSync(join(root, 'models/manifest.ts'), 'export {}\n')
  writeFileSync(join(root, 'dashboards/index.ts'), 'export {}\n')
  return root
}

describe('the build check', () => {
  it('holds the build current until a source is changed, added or removed', () => {
    const root = tree()
    expect(buildIsCurrent(root)).toBe(false)
    writeBuildStamp(root)
    expect(buildIsCurrent(root)).toBe(true)
    // The console's browser code is not part of the server's build.
    writeFileSync(join(root, 'gateway/console/web/app.ts'), 'export {}\n')
    expect(buildIsCurrent(root)).toBe(true)

    utimesSync(join(root, 'edge/main.ts'), new Date(), new Date(Date.now() + 5000))
    expect(buildIsCurrent(root)).toBe(false)
    writeBuildStamp(root)
    expect(buildIsCurrent(root)).toBe(true)

    writeFileSync(join(root, 'gateway/cli/new-command.ts'), 'export {}\n')
    expect(buildIsCurrent(root)).toBe(false)
    writeBuildStamp(root)

    rmSync(join(root, 'models/manifest.ts'))
    expect(buildIsCurrent(root)).toBe(false)
    writeBuildStamp(root)
    expect(buildIsCurrent(root)).toBe(true)

    rmSync(join(root, 'build'), { recursive: true })
    expect(buildIsCurrent(root)).toBe(false)
  })

  // What `npm ci` leaves (its `prepare` script builds): the gateways the other tests start run the build.
  it.runIf(process.env.CI)('is current on a fresh clone after npm ci', () => {
    expect(buildIsCurrent()).toBe(true)
  })
})
