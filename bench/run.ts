// `npm run bench -- NAME [args]`: runs bench/NAME.ts, or every benchmark when no name is given.
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
const [name, ...rest] = process.argv.slice(2)
const names = name ? [name] : available
for (const n of names) {
  if (!available.includes(n)) {
    console.error(`unknown benchmark "${n}"; available: ${available.join(', ')}`)
    process.exit(2)
  }
  const mod = (await import(join(here, `${n}.ts`))) as { main: (args: string[]) => Promise<void> }
  console.log(`\n=== bench ${n} ===`)
  await mod.main(rest)
}
