import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

// gateway/domain holds the facts every capability shares (stations, alarm levels, VN_AQI) and
// gateway/util the generic helpers: capabilities import them, never the other way round (README
// "Architecture"), so moving or splitting a capability never drags the shared facts along.
const GATEWAY = new URL('../../gateway/', import.meta.url).pathname
const SHARED = new Set(['domain', 'util'])

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!)
}

describe('domain/ and util/ depend on nothing of the capabilities', () => {
  for (const folder of SHARED) {
    it(`gateway/${folder} imports only packages, node: modules and domain/ or util/`, () => {
      const files = readdirSync(join(GATEWAY, folder)).filter((f) => f.endsWith('.ts'))
      expect(files.length).toBeGreaterThan(0)
      const outward: string[] = []
      for (const f of files) {
        for (const spec of importsOf(join(GATEWAY, folder, f))) {
          if (!spec.startsWith('.')) continue
          const target = new URL(spec, `file://${join(GATEWAY, folder, f)}`).pathname
          const top = target.startsWith(GATEWAY) ? target.slice(GATEWAY.length).split('/')[0]! : '(outside gateway)'
          if (!SHARED.has(top)) outward.push(`${folder}/${f} → ${spec}`)
        }
      }
      expect(outward).toEqual([])
    })
  }
})
