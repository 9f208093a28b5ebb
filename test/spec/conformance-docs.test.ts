// Conformance with docs/, the contract of record users see, without a running gateway: the layout,
// scripts and environment of README.md, the commands of docs/cli.md against `iocgw --help`, and the
// topics and CONNACK answers of docs/mqtt.md. The checks go both ways: what the docs promise
// exists, and what the code offers is documented; a check that fails names what is missing.
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../gateway/config/load.ts'
import { ENV_KEYS } from '../../gateway/config/schema.ts'
import { ROOT } from '../support/gateway-process.ts'
import { cli, commandsOf, doc, DOC_API_ROUTES, DOC_CLI, DOC_DIRS, DOC_ENV, DOC_FILES, DOC_ROUTES, DOC_UNVERSIONED_ROUTES } from './docs.ts'

describe('README.md: repository layout, scripts and configuration names', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>
    bin?: Record<string, string> | string
  }

  it('has the layout directories and files of README.md', () => {
    const missing = [
      ...DOC_DIRS.filter((d) => !existsSync(join(ROOT, d)) || !statSync(join(ROOT, d)).isDirectory()),
      ...DOC_FILES.filter((f) => !existsSync(join(ROOT, f))),
    ]
    expect(missing, 'layout entries of README.md missing').toEqual([])
    const readme = doc('README.md')
    expect(
      [...DOC_DIRS.map((d) => `${d}/`), ...DOC_FILES].filter((e) => !readme.includes(e)),
      'not in README.md',
    ).toEqual([])
  })

  it('package.json has the scripts start, test, bench, demo and the bin iocgw', () => {
    const missing = ['start', 'test', 'bench', 'demo'].filter((s) => !pkg.scripts?.[s])
    expect(missing, 'npm scripts missing').toEqual([])
    expect(typeof pkg.bin === 'object' ? pkg.bin.iocgw : undefined).toBeTruthy()
    expect(existsSync(join(ROOT, (pkg.bin as Record<string, string>).iocgw as string))).toBe(true)
  })

  it('every `iocgw <command>` that a package script runs is a command the CLI offers', async () => {
    const offered = commandsOf(await cli(['--help']))
    const used = Object.entries(pkg.scripts ?? {})
      .map(([name, cmd]) => [name, /iocgw\.js\s+([a-z][a-z-]*)/.exec(cmd)?.[1]] as const)
      .filter((e): e is readonly [string, string] => e[1] !== undefined)
    const broken = used.filter(([, c]) => !offered.includes(c)).map(([n, c]) => `npm run ${n} → iocgw ${c}`)
    expect(broken, 'scripts calling a CLI command that does not exist').toEqual([])
  })

  it('.npmrc skips the onnxruntime-node binary download', () => {
    const lines = readFileSync(join(ROOT, '.npmrc'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
    expect(lines).toContain('onnxruntime-node-install=skip')
  })

  it('every environment name of README.md is read by the configuration, and every one it reads is documented', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const known = ENV_KEYS.map((k) => k.env)
    expect(
      DOC_ENV.filter((e) => !known.includes(e)),
      'not in gateway/config/schema.ts ENV_KEYS',
    ).toEqual([])
    expect(
      [...DOC_ENV, ...known].filter((e) => !readme.includes(`\`${e}\``)),
      'not documented in README.md',
    ).toEqual([])
  })

  it('the documented defaults hold: ./data, 8080, 1883, 8083 at /mqtt', () => {
    const c = loadConfig({ file: undefined, env: {}, flags: {} })
    expect(c.server.dataDir).toBe('./data')
    expect(c.http.port).toBe(8080)
    expect(c.mqtt.port).toBe(1883)
    expect(c.mqtt.wsPort).toBe(8083)
    expect(c.mqtt.wsPath).toBe('/mqtt')
  })
})

describe('docs/ describes the whole contract', () => {
  it('the role table of docs/api.md holds the routes users rely on', () => {
    // A parse that finds nothing must not pass as "nothing missing".
    expect(DOC_API_ROUTES).toEqual(
      expect.arrayContaining([
        ['POST', '/devices'],
        ['PATCH', '/devices/:id'],
        ['DELETE', '/devices/:id'],
        ['GET', '/events'],
      ]),
    )
    expect(DOC_ROUTES.unversioned).toEqual(
      expect.arrayContaining([
        ['GET', '/healthz'],
        ['GET', '/readyz'],
        ['GET', '/metrics'],
        ['GET', '/docs'],
      ]),
    )
    const text = doc('docs/api.md')
    const missing = [...DOC_API_ROUTES, ...DOC_UNVERSIONED_ROUTES]
      .filter(
        ([method, path]) =>
          !new RegExp(`${method}[^\\n]*${path.replace(/[/:.-]/g, (c) => `\\${c}`)}(?![a-z/-])`).test(text.replaceAll('`', '')),
      )
      .map(([m, p]) => `${m} ${p}`)
    expect(missing).toEqual([])
  })

  it('docs/cli.md documents every command', () => {
    const text = doc('docs/cli.md')
    expect(DOC_CLI.map((c) => c.path.join(' ')).filter((c) => !text.includes(c))).toEqual([])
  })

  it('docs/mqtt.md documents every topic and CONNACK answer', () => {
    const text = doc('docs/mqtt.md')
    const topics = [
      'devices/{id}/telemetry',
      'devices/{id}/status',
      'devices/{id}/frames',
      'devices/{id}/frames/{epoch ms}',
      'devices/{id}/config',
      'devices/{id}/cmd',
      'devices/{id}/cmd/ack',
      'alerts/{kind}/{station or device}',
      'alerts/#',
      'devices/+/telemetry',
      'devices/+/status',
    ]
    expect(topics.filter((t) => !text.includes(t))).toEqual([])
    expect(text).toMatch(/bad user ?name or password/)
    expect(text).toContain('not authorized')
  })
})

describe('the iocgw CLI offers every command of docs/cli.md, and docs/cli.md names every command it offers', () => {
  it('every command and subcommand of `iocgw --help` is in docs/cli.md', async () => {
    const text = doc('docs/cli.md')
    const missing: string[] = []
    for (const group of commandsOf(await cli(['--help'])).filter((c) => c !== 'help')) {
      const subs = commandsOf(await cli([group, '--help'])).filter((c) => c !== 'help')
      for (const c of subs.length ? subs.map((s) => `${group} ${s}`) : [group])
        if (!text.includes(`iocgw ${c}`) && !text.includes(`\`${c}`)) missing.push(c)
    }
    expect(missing, 'iocgw commands missing from docs/cli.md').toEqual([])
  })

  it.each(DOC_CLI.map((c) => [c.path.join(' '), c] as const))('iocgw %s', async (_name, spec) => {
    // The parent's help must list the command, and the command's own help must parse.
    const parent = spec.path.slice(0, -1)
    const listed = commandsOf(await cli([...parent, '--help']))
    expect(listed, `\`iocgw ${parent.join(' ')} --help\` lists`).toContain(spec.path[spec.path.length - 1])
    const help = await cli([...spec.path, '--help'])
    expect(help).toContain(`Usage: iocgw ${spec.path.join(' ')}`)
    for (const opt of spec.options ?? []) expect(help, `iocgw ${spec.path.join(' ')} ${opt}`).toContain(opt)
  })
})
