import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import semver from 'semver'
import { describe, expect, it } from 'vitest'
import { PROJECT_ROOT } from '../../models/manifest.ts'

// `npm install` warns EBADENGINE for every installed package whose `engines.node` excludes the
// running Node. The project promises the Node range of package.json `engines`; every package of
// the lock file (runtime, dev and optional platform binaries) must accept its lowest version.

const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
const lock = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>
}

describe('Node version support', () => {
  const floor = semver.minVersion(pkg.engines.node)

  it('package.json engines starts on Node 20', () => {
    expect(floor, pkg.engines.node).not.toBeNull()
    expect(floor!.major).toBe(20)
    expect(lock.packages['']?.engines).toEqual(pkg.engines)
  })

  it('every package in package-lock.json accepts the lowest Node that engines allows, and the Node running the tests', () => {
    const refused: string[] = []
    for (const [path, entry] of Object.entries(lock.packages)) {
      // Very old packages wrote engines as an array of strings; npm ignores that form.
      const range = entry.engines && !Array.isArray(entry.engines) ? entry.engines.node : undefined
      if (!path || !range) continue
      for (const node of [floor!.version, process.versions.node]) {
        if (!semver.satisfies(node, range)) refused.push(`${path}@${entry.version} needs node ${range}, not ${node}`)
      }
    }
    expect(refused).toEqual([])
  })
})
