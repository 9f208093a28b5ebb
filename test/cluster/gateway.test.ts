import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnGateway, stopGateway, type GatewayProcess } from '../support/gateway-process.ts'
import { requirePostgres, startPostgres, type PgInstance } from '../support/postgres.ts'
import { tempDir, waitFor } from '../support/services.ts'

// The real gateway process with postgres.url set (docs/operations.md "Several nodes"): /readyz has
// a `postgres` component that follows PostgreSQL going away and coming back, /metrics has the
// cluster gauges, and a clean stop leaves the peer list at once.

const ADMIN = 'cluster-gateway-admin-token-0123456789'

interface Ready {
  status: string
  checks: Record<string, { ok: boolean; detail?: string }>
}

describe.skipIf(!requirePostgres())('gateway with postgres.url', () => {
  const dir = tempDir()
  const empty = tempDir('iocgw-no-models-')
  let pgi: PgInstance
  let url: string
  let gw: GatewayProcess

  const readyz = async (): Promise<{ status: number; body: Ready }> => {
    const r = await fetch(`${gw.apiUrl}/readyz`)
    return { status: r.status, body: (await r.json()) as Ready }
  }
  const nodes = async (): Promise<string[]> => {
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    try {
      return (await c.query<{ node_id: string }>('SELECT node_id FROM cluster_nodes ORDER BY node_id')).rows.map((r) => r.node_id)
    } finally {
      await c.end()
    }
  }

  beforeAll(async () => {
    pgi = await startPostgres()
    url = await pgi.createDatabase()
    gw = await spawnGateway({
      dataDir: dir.path,
      env: {
        IOC_ADMIN_TOKEN: ADMIN,
        IOC_MODELS_DIR: empty.path,
        IOC_MODELS_FALLBACKS: '0',
        IOC_POSTGRES_URL: url,
        IOC_NODE_ID: 'node-test-1',
      },
    })
  })
  afterAll(async () => {
    if (gw) await stopGateway(gw)
    await pgi?.stop()
    dir.remove()
    empty.remove()
  })

  it('reports postgres in /readyz and the cluster gauges in /metrics', async () => {
    const { status, body } = await readyz()
    expect(status).toBe(200)
    expect(body.checks.postgres).toEqual({ ok: true, detail: expect.stringContaining('1 live node(s)') })
    expect(await nodes()).toEqual(['node-test-1'])
    const metrics = await (await fetch(`${gw.apiUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text()
    expect(metrics).toMatch(/^iocgw_postgres_up 1$/m)
    expect(metrics).toMatch(/^iocgw_cluster_peers 1$/m)
    expect(metrics).toContain('# TYPE iocgw_cluster_leases_held gauge')
    // The URL may carry a password: it never reaches the output.
    expect(gw.output()).not.toContain(url)
  })

  it('is not ready while PostgreSQL is down, keeps running, and is ready again after', async () => {
    await pgi.kill()
    const down = await waitFor(
      async () => {
        const r = await readyz()
        return r.status === 503 ? r.body : undefined
      },
      60_000,
      200,
    )
    expect(down.checks.postgres).toEqual({ ok: false, detail: expect.stringContaining('PostgreSQL unreachable') })
    expect(down.checks.broker!.ok).toBe(true)
    expect((await fetch(`${gw.apiUrl}/healthz`)).status).toBe(200)
    const metrics = await (await fetch(`${gw.apiUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text()
    expect(metrics).toMatch(/^iocgw_postgres_up 0$/m)

    await pgi.start()
    await waitFor(async () => (await readyz()).status === 200, 60_000, 200)
    expect(gw.child.exitCode).toBeNull()
  })

  it('a clean stop removes the node from the peer list at once', async () => {
    expect(await nodes()).toEqual(['node-test-1'])
    expect(await stopGateway(gw)).toBe(0)
    expect(await nodes()).toEqual([])
  })
})
