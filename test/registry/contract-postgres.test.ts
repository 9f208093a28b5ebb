import { cpSync } from 'node:fs'
import { join } from 'node:path'
import type pg from 'pg'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { openGatewayRegistry } from '../../gateway/registry/open.ts'
import { Revocations } from '../../gateway/registry/postgres/revocations.ts'
import type { Actor, DeviceRegistry, RevocationEvent } from '../../gateway/registry/types.ts'
import { useCleanups } from '../support/cleanups.ts'
import { requirePostgres, usePostgres } from '../support/postgres.ts'
import { tempDir, waitFor } from '../support/services.ts'
import { registryContract } from './contract.ts'

// The registry in PostgreSQL (docs/operations.md "Registry in PostgreSQL"): the same contract as
// SQLite, and what only a shared registry has: several nodes on one database.

const logger = pino({ level: 'silent' })
const actor: Actor = { type: 'system', id: 'test' }
const ok = requirePostgres()

/** One node: its own data directory (server.key), its own pool, the shared database. */
async function node(url: string, dataDir: string): Promise<{ registry: DeviceRegistry; pool: pg.Pool; close(): Promise<void> }> {
  const pool = openPgPool(url, { logger, max: 4 })
  try {
    const registry = await openGatewayRegistry({ dataDir, cluster: { pool, nodeId: 'contract' }, logger })
    return {
      registry,
      pool,
      async close() {
        await registry.close()
        await pool.end()
      },
    }
  } catch (err) {
    await pool.end()
    throw err
  }
}

describe.skipIf(!ok)('PostgreSQL registry', () => {
  const server = usePostgres()
  const cleanup = useCleanups()
  /** A temp directory, removed after the test. */
  const testDir = () => {
    const d = tempDir()
    cleanup(d.remove)
    return d
  }
  /** node(), closed after the test (before the directories go). */
  const testNode = async (url: string, dataDir: string) => {
    const n = await node(url, dataDir)
    cleanup(() => n.close())
    return n
  }

  registryContract('PostgreSQL', async () => {
    const url = await server.createDatabase()
    const dir = tempDir()
    let n = await node(url, dir.path)
    return {
      registry: n.registry,
      async reopen() {
        await n.close()
        n = await node(url, dir.path)
        return n.registry
      },
      async dispose() {
        await n.close()
        dir.remove()
      },
    }
  })

  it('stores secrets, tokens and session ids only as keyed hashes', async () => {
    const url = await server.createDatabase()
    const dir = testDir()
    const a = await testNode(url, dir.path)
    const { secret } = await a.registry.createDevice({ id: 'hash-01', kind: 'camera', name: 'c' }, actor)
    const { secret: token } = await a.registry.createToken({ role: 'admin', name: 'ops' }, actor)
    const user = await a.registry.users.createUser({ name: 'lan', role: 'viewer', password: 'mật khẩu đủ dài' }, actor)
    const session = await a.registry.users.createSession(user.id, Date.now())
    const dump = JSON.stringify(
      await Promise.all(
        ['devices', 'device_credentials', 'api_tokens', 'users', 'user_sessions', 'audit_log', 'registry_server_key'].map(
          async (t) => (await a.pool.query(`SELECT * FROM ${t}`)).rows,
        ),
      ),
    )
    for (const s of [secret, token, session.id, 'mật khẩu đủ dài']) expect(dump.includes(s)).toBe(false)
    expect(dump.includes(Buffer.from(secret).toString('hex'))).toBe(false)
  })

  it('a device registered on node A authenticates on node B; a revocation on A reaches B (LISTEN/NOTIFY)', async () => {
    const url = await server.createDatabase()
    const dirA = testDir()
    const dirB = testDir()
    const a = await testNode(url, dirA.path)
    // Every node shares the server key: B gets A's (docs/operations.md "Registry in PostgreSQL").
    cpSync(join(dirA.path, 'server.key'), join(dirB.path, 'server.key'))
    const b = await testNode(url, dirB.path)
    const onB: RevocationEvent[] = []
    const tokensOnB: string[] = []
    b.registry.onRevocation((e) => onB.push(e))
    b.registry.onTokenRevocation((id) => tokensOnB.push(id))
    const onA: RevocationEvent[] = []
    a.registry.onRevocation((e) => onA.push(e))

    const { secret } = await a.registry.createDevice({ id: 'xnode-01', kind: 'water_level', name: 'Kim Long' }, actor)
    expect(await b.registry.authenticateDevice('xnode-01', secret)).toMatchObject({ ok: true })
    await a.registry.createDevice({ id: 'xnode-02', kind: 'water_level', name: 'Phú Ốc' }, actor)
    await a.registry.rotateSecret('xnode-01', actor)
    await a.registry.updateDevice('xnode-02', { state: 'disabled' }, actor)
    await a.registry.removeDevice('xnode-01', actor)
    const { token } = await a.registry.createToken({ role: 'viewer', name: 'grafana' }, actor)
    await a.registry.deleteToken(token.id, actor)
    await waitFor(() => onB.length === 3 && tokensOnB.length === 1, 20_000)
    expect(onB).toEqual([
      { deviceId: 'xnode-01', reason: 'secret_rotated' },
      { deviceId: 'xnode-02', reason: 'disabled' },
      { deviceId: 'xnode-01', reason: 'removed' },
    ])
    expect(tokensOnB).toEqual([token.id])
    // The node that made the change hears each once (its own notification is not delivered twice).
    expect(onA).toHaveLength(3)

    // A change that fails (rolled back) announces nothing.
    await expect(a.registry.rotateSecret('xnode-01', actor)).rejects.toMatchObject({ code: 'conflict' })
    await b.registry.createDevice({ id: 'xnode-03', kind: 'camera', name: 'c' }, actor)
    await b.registry.updateDevice('xnode-03', { state: 'disabled' }, actor)
    await waitFor(() => onA.length === 4, 20_000)
    expect(onA[3]).toEqual({ deviceId: 'xnode-03', reason: 'disabled' })
    expect(onB).toHaveLength(4)
  })

  it('two nodes creating the same device or user at once: one wins, the other gets a conflict', async () => {
    const url = await server.createDatabase()
    const dir = testDir()
    const a = await testNode(url, dir.path)
    const b = await testNode(url, dir.path)
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).registry.createDevice({ id: 'race-01', kind: 'camera', name: `c${i}` }, actor)),
    )
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    for (const r of results.filter((r) => r.status === 'rejected'))
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'conflict' })
    const users = await Promise.allSettled(
      [a, b].map((n) => n.registry.users.createUser({ name: 'same', role: 'viewer', password: 'mật khẩu đủ dài' }, actor)),
    )
    expect(users.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    expect((users.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ code: 'conflict' })
  })

  it('while PostgreSQL is down, a token this node saw valid still authenticates; a deleted one does not', async () => {
    const url = await server.createDatabase()
    const dir = testDir()
    const a = await testNode(url, dir.path)
    const b = await testNode(url, dir.path)
    const kept = await a.registry.createToken({ role: 'viewer', name: 'prometheus' }, actor)
    const gone = await a.registry.createToken({ role: 'viewer', name: 'old grafana' }, actor)
    expect((await b.registry.authenticateToken(kept.secret))?.id).toBe(kept.token.id)
    expect((await b.registry.authenticateToken(gone.secret))?.id).toBe(gone.token.id)
    const revoked: string[] = []
    b.registry.onTokenRevocation((id) => revoked.push(id))
    await a.registry.deleteToken(gone.token.id, actor)
    await waitFor(() => revoked.length === 1, 20_000)
    await server.kill()
    try {
      expect((await b.registry.authenticateToken(kept.secret))?.id).toBe(kept.token.id)
      await expect(b.registry.authenticateToken(gone.secret)).rejects.toThrow()
      await expect(b.registry.authenticateToken('iocgw_never_seen')).rejects.toThrow()
    } finally {
      await server.start()
    }
  }, 120_000)

  it('listens again after PostgreSQL restarts: a later revocation still reaches the other node', async () => {
    const url = await server.createDatabase()
    const dir = testDir()
    const a = await testNode(url, dir.path)
    const b = await testNode(url, dir.path)
    const onB: RevocationEvent[] = []
    b.registry.onRevocation((e) => onB.push(e))
    await a.registry.createDevice({ id: 'restart-01', kind: 'camera', name: 'c' }, actor)
    await server.kill()
    await server.start()
    // The first queries after the restart may meet connections the crash broke; the pool replaces them.
    await waitFor(async () => (await a.registry.getDevice('restart-01').catch(() => undefined)) !== undefined, 30_000)
    await waitFor(async () => {
      await a.registry.updateDevice('restart-01', { state: 'disabled' }, actor).catch(() => undefined)
      await a.registry.updateDevice('restart-01', { state: 'active' }, actor).catch(() => undefined)
      return onB.length > 0
    }, 60_000)
    expect(onB[0]).toEqual({ deviceId: 'restart-01', reason: 'disabled' })
  }, 120_000)

  it('closed while its revocation listener connects (a reconnect after an outage): the connection goes back and the pool ends', async () => {
    const url = await server.createDatabase()
    const pool = openPgPool(url, { logger, max: 4 })
    const revocations = new Revocations(pool, logger)
    const starting = revocations.start()
    await revocations.close()
    await starting
    // A client still checked out here would hold pool.end() forever (a node's shutdown, a test's clean-up).
    expect(pool.totalCount - pool.idleCount).toBe(0)
    await pool.end()
  })

  it("refuses to start a node whose server key differs from the cluster's, saying what to do", async () => {
    const url = await server.createDatabase()
    const dirA = testDir()
    const dirB = testDir()
    await testNode(url, dirA.path)
    await expect(node(url, dirB.path)).rejects.toThrow(/server key.*copy server.key/)
  })
})
