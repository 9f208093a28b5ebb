import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PROJECT_ROOT } from '../../models/manifest.ts'

// The contract of record is the project's own docs/ (and README.md). Code, tests and docs cite
// those, never a page outside the repository, which a user's clone does not have.

const SKIP = new Set(['node_modules', '.git', 'data', 'coverage', '.vitest', 'tmp'])
const TEXT = /\.(ts|js|mjs|cjs|md|ya?ml|json|py|sh|txt)$|^(Dockerfile|run|\.npmrc)$/

function* files(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name)) continue
    const path = join(dir, e.name)
    if (e.isDirectory()) yield* files(path)
    else if (TEXT.test(e.name)) yield path
  }
}

describe('citations', () => {
  it("no file cites the builders' specification or model notes outside the repository; docs/ holds the contract", () => {
    const self = relative(PROJECT_ROOT, import.meta.filename)
    const cites = [/\bSPEC\b/, /SPEC\.md/, /shared\/SPEC/, /MODELS\.md/]
    const found: string[] = []
    for (const path of files(PROJECT_ROOT)) {
      const rel = relative(PROJECT_ROOT, path)
      if (rel === self || rel.startsWith('models/samples/')) continue
      readFileSync(path, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (cites.some((re) => re.test(line))) found.push(`${rel}:${i + 1}: ${line.trim().slice(0, 100)}`)
        })
    }
    expect(found).toEqual([])
  })
})
