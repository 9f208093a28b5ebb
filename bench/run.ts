// `npm run bench -- NAME [args]`: runs bench/NAME.ts, or every benchmark when no name is given.
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildIsCurrent } from '../gateway/cli/build-check.js'

const here = dirname(fileURLToPath(import.meta.url))
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
const [name, ...rest] = process.argv.slice(2)
const names = name ? [name] : available
// Gateway processes the benchmarks start run the build only while it matches the sources
// (gateway/cli/iocgw.js); from the sources they carry the TypeScript loader's thread and memory,
// which bench/README.md's figures do not.
if (!buildIsCurrent())
  console.warn(
    'bench: the build does not match the sources, so gateway processes run through tsx; `npm run build` first for comparable figures',
  )
for (const n of names) {
  if (!available.includes(n)) {
    console.error(`unknown benchmark "${n}"; available: ${available.join(', ')}`)
    process.exit(2)
  }
  const mod = (await import(join(here, `${n}.ts`))) as { main: (args: string[]) => Promise<void> }
  console.log(`\n=== bench ${n} ===`)
  await mod.main(rest)
}
