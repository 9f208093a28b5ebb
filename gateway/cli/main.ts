import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Command } from 'commander'
import { MODULE_EXT, PACKAGE_ROOT } from '../util/package-root.ts'
import { CliError } from './errors.ts'

// Each command group is its own file in ./commands exporting `register(program: Command)`, named
// after its top-level command (device.ts registers `device`); adding a group never means editing
// here. See ./README.md.

const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }

/**
 * The program with its command groups registered: only the group named by `command` when a file
 * of that name exists (a client command must not pay for loading every capability), else all.
 */
export async function buildProgram(command?: string): Promise<Command> {
  const program = new Command('iocgw')
    .description('ioc-gateway: run the gateway, and manage devices and tokens through its API')
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', '\nClient commands use IOC_API_URL (default http://127.0.0.1:8080) and IOC_TOKEN.')
  const dir = new URL('./commands/', import.meta.url)
  const all = readdirSync(dir)
    .filter((f) => f.endsWith(MODULE_EXT) && !f.endsWith(`.test${MODULE_EXT}`))
    .sort()
  const files = command && all.includes(`${command}${MODULE_EXT}`) ? [`${command}${MODULE_EXT}`] : all
  for (const file of files) {
    const mod = (await import(new URL(file, dir).href)) as { register?: (p: Command) => void }
    if (typeof mod.register === 'function') mod.register(program)
  }
  return program
}

/** Errors the user can fix print as one line; anything else is a bug and keeps its stack. */
function report(err: unknown): number {
  const e = err as Error & { exitCode?: number }
  if (err instanceof CliError || e?.name === 'ConfigError' || e?.name === 'StartupError') {
    process.stderr.write(`iocgw: ${e.message}\n`)
    return err instanceof CliError ? err.exitCode : 1
  }
  process.stderr.write(`iocgw: unexpected error: ${e?.stack ?? String(err)}\n`)
  return 1
}

try {
  const program = await buildProgram(process.argv[2])
  await program.parseAsync(process.argv)
} catch (err) {
  process.exitCode = report(err)
}
