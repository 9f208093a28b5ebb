import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// Where the package's own files are (package.json, config/, models/, the console's build), and
// which extension its modules have in this run. The same code runs from the TypeScript sources
// (gateway/util/) and from their build (build/gateway/util/, `npm run build`), one folder deeper,
// so paths are found from the package root rather than counted up from a module.

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`)
  }
}

/** The folder holding the package's package.json. */
export const PACKAGE_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)))

/** `.ts` when the sources run (through tsx), `.js` when the build does. */
export const MODULE_EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
