// docs/ read as tables for the conformance tests (conformance.test.ts, conformance-docs.test.ts):
// the routes of docs/api.md's role table, the commands of docs/cli.md, the environment and layout
// of README.md, and the CLI's own help to hold them against.
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { BIN, ROOT } from '../support/gateway-process.ts'

export const run = promisify(execFile)
export const doc = (name: string) => (existsSync(join(ROOT, name)) ? readFileSync(join(ROOT, name), 'utf8') : '')

export const ROLE_COLUMNS = ['admin', 'technician', 'officer', 'viewer', 'public'] as const

/**
 * The routes of the role table of docs/api.md "Authentication and roles": each row names routes as
 * `METHOD /path` (`PATCH\|DELETE /devices/:id` for two methods), then a ✓ per role that may call
 * them (admin, technician, officer, viewer, no token); "(unversioned)" rows are outside /api/v1.
 */
export function documentedRoutes(): Array<{ method: string; path: string; roles: string[]; unversioned: boolean }> {
  const out: Array<{ method: string; path: string; roles: string[]; unversioned: boolean }> = []
  for (const line of doc('docs/api.md').split('\n')) {
    if (!line.startsWith('| `')) continue
    // Split on the table's bars, not on the escaped ones inside a route (`PATCH\|DELETE`).
    const cells = line
      .split(/(?<!\\)\|/)
      .slice(1, -1)
      .map((c) => c.trim())
    if (cells.length !== 1 + ROLE_COLUMNS.length) continue
    const roles = ROLE_COLUMNS.filter((_r, i) => cells[i + 1] === '✓')
    for (const [, spec] of cells[0]!.matchAll(/`([^`]+)`/g)) {
      const m = /^([A-Z]+(?:\\\|[A-Z]+)*) (\/\S*)$/.exec(spec!)
      if (!m) continue
      for (const method of m[1]!.split('\\|'))
        out.push({ method, path: m[2]!, roles: [...roles], unversioned: cells[0]!.includes('(unversioned)') })
    }
  }
  return out
}
export const DOC_ROUTE_ROWS = documentedRoutes()
export const DOC_ROUTES = {
  api: DOC_ROUTE_ROWS.filter((r) => !r.unversioned).map((r) => [r.method, r.path] as const),
  unversioned: DOC_ROUTE_ROWS.filter((r) => r.unversioned).map((r) => [r.method, r.path] as const),
}
export const DOC_API_ROUTES = DOC_ROUTES.api
// /docs serves the document itself and is checked by fetching it.
export const DOC_UNVERSIONED_ROUTES = DOC_ROUTES.unversioned.filter(([, p]) => p !== '/docs')

// docs/cli.md: group → subcommands (an empty list: the command itself), with required options.
export const DOC_CLI: ReadonlyArray<{ path: string[]; options?: string[] }> = [
  { path: ['start'] },
  { path: ['edge'], options: ['--config'] },
  { path: ['device', 'add'] },
  { path: ['device', 'list'] },
  { path: ['device', 'show'] },
  { path: ['device', 'rotate-secret'] },
  { path: ['device', 'remove'] },
  { path: ['token', 'create'], options: ['--role'] },
  { path: ['dashboards', 'build'] },
  { path: ['dashboards', 'push'] },
  { path: ['models', 'fetch'], options: ['--dir', '--only', '--from'] },
  { path: ['models', 'verify'] },
]

// README.md "Configuration": the environment names of the configuration keys.
export const DOC_ENV = [
  'IOC_DATA_DIR',
  'IOC_HTTP_PORT',
  'IOC_MQTT_PORT',
  'IOC_MQTT_WS_PORT',
  'IOC_INFLUX_URL',
  'IOC_NODE_ID',
  'IOC_POSTGRES_URL',
  'IOC_REDIS_URL',
  'IOC_ADMIN_TOKEN',
  'IOC_MODELS_DIR',
  'IOC_LOG_LEVEL',
] as const

// README.md "Layout".
export const DOC_DIRS = ['gateway', 'edge', 'dashboards', 'models', 'config', 'test', 'bench'] as const
export const DOC_FILES = ['package.json', 'tsconfig.json', 'docker-compose.yml', 'README.md', '.ci/run', '.npmrc'] as const

export const openApiPath = (path: string): string => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')

export async function cli(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } })
  return stdout
}

/** Subcommand names listed under "Commands:" in a commander help text. */
export function commandsOf(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? ''
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1] as string)
}
