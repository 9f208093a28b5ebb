import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnGateway, stopGateway, type GatewayProcess } from '../support/gateway-process.ts'
import { tempDir } from '../support/services.ts'

// A single gateway storing in SQLite, without cameras, loads neither the vision stack nor the
// clients of what it does not use (docs/operations.md "Memory"): the real `iocgw start` process,
// its loaded modules listed by a preload when it exits.

const FIXTURE = join(import.meta.dirname, 'fixtures', 'loaded-modules.js')
const ADMIN = 'idle-modules-admin-token-0123456789'

/** The packages whose files appear in a list of module paths. */
function packages(paths: string[]): Set<string> {
  const names = new Set<string>()
  for (const p of paths) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(p.slice(p.lastIndexOf('node_modules/')))
    if (m) names.add(m[1]!)
  }
  return names
}

describe('an idle gateway without cameras or cluster', () => {
  const dir = tempDir()
  const out = join(dir.path, 'loaded.txt')
  let gw: GatewayProcess
  let maps = ''
  let loaded = new Set<string>()

  beforeAll(async () => {
    gw = await spawnGateway({
      dataDir: join(dir.path, 'data'),
      env: { IOC_ADMIN_TOKEN: ADMIN, NODE_OPTIONS: `--import ${FIXTURE}`, IOC_TEST_LOADED_MODULES: out },
    })
    // Used as an operator's monitoring uses it: ready checked, metrics scraped.
    expect((await fetch(`${gw.apiUrl}/readyz`)).status).toBe(200)
    expect((await fetch(`${gw.apiUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(200)
    maps = readFileSync(`/proc/${gw.child.pid}/maps`, 'utf8')
    expect(await stopGateway(gw)).toBe(0)
    loaded = packages(readFileSync(out, 'utf8').split('\n').filter(Boolean))
  }, 120_000)
  afterAll(async () => {
    if (gw) await stopGateway(gw)
    dir.remove()
  })

  it('lists what it does use (the listing works)', () => {
    expect(loaded).toContain('better-sqlite3')
    expect(loaded).toContain('fastify')
    expect(maps).toContain('better_sqlite3.node')
  })

  it('has not loaded onnxruntime, sharp or the vision worker pool', () => {
    for (const p of ['onnxruntime-node', 'sharp', 'piscina']) expect(loaded, p).not.toContain(p)
    expect(maps).not.toContain('libonnxruntime')
    expect(maps).not.toContain('libvips')
  })

  it('has not loaded the InfluxDB, PostgreSQL or Redis clients', () => {
    for (const p of ['influx', 'pg', 'ioredis', 'mqemitter-redis', 'aedes-persistence-redis']) expect(loaded, p).not.toContain(p)
  })
})
