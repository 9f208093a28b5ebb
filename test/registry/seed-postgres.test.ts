import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, readFileSync } from 'node:fs'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import type pg from 'pg'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { migratePg } from '../../gateway/pg/migrate.ts'
import { openPgPool } from '../../gateway/pg/pool.ts'
import { applyConfiguredAdminToken } from '../../gateway/registry/bootstrap.ts'
import { openGatewayRegistry, seedGatewayRegistry } from '../../gateway/registry/open.ts'
import { REGISTRY_PG_MIGRATIONS, REGISTRY_PG_MIGRATIONS_TABLE } from '../../gateway/registry/postgres/migrations.ts'
import { MIGRATIONS } from '../../gateway/registry/migrations.ts'
import { SecretHasher } from '../../gateway/registry/secrets.ts'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import { migrate } from '../../gateway/sqlite/migrate.ts'
import type { Actor, DeviceRegistry } from '../../gateway/registry/types.ts'
import { useCleanups } from '../support/cleanups.ts'
import { requirePostgres, usePostgres } from '../support/postgres.ts'
import { tempDir } from '../support/services.ts'

// A single node moved to cluster mode keeps its registry (docs/operations.md "Registry in
// PostgreSQL"): the first node with a used registry.db copies it into PostgreSQL, once across nodes.

const ok = requirePostgres()
const admin: Actor = { type: 'token', id: 'tok-ops', name: 'ops' }
const PASSWORD = 'mật khẩu đủ dài'
const ADMIN_TOKEN = 'iocgw_the-configured-admin-token-of-every-node'

/** What a single node's registry held, made through its own API, with the secrets it handed out. */
async function singleNode(dir: string) {
  const reg = openRegistry(dir)
  try {
    await applyConfiguredAdminToken(reg, ADMIN_TOKEN)
    const kim = await reg.createDevice(
      {
        id: 'kim-long-01',
        kind: 'water_level',
        name: 'Trạm Kim Long',
        station: 'kim-long',
        location: { lat: 16.47, lon: 107.58 },
        tags: ['song-huong'],
      },
      admin,
    )
    const off = await reg.createDevice({ id: 'phu-oc-01', kind: 'rain_gauge', name: 'Phú Ốc', district: 'huong-tra' }, admin)
    await reg.updateDevice('phu-oc-01', { state: 'disabled' }, admin)
    const gone = await reg.createDevice({ id: 'old-cam-01', kind: 'camera', name: 'old' }, admin)
    await reg.removeDevice('old-cam-01', admin)
    await reg.createDevice({ kind: 'air_quality', name: 'generated id' }, admin)
    const grafana = await reg.createToken({ role: 'viewer', name: 'grafana' }, admin)
    const lan = await reg.users.createUser({ name: 'lan', role: 'officer', password: PASSWORD, districts: ['hue'] }, admin)
    const off2 = await reg.users.createUser({ name: 'minh', role: 'viewer', password: PASSWORD }, admin)
    await reg.users.updateUser('minh', { disabled: true }, admin)
    await reg.users.checkPassword('lan', PASSWORD)
    const session = await reg.users.createSession(lan.id, Date.now())
    await reg.setCameraConfig(
      'cam-hue-01',
      {
        zones: [
          {
            name: 'road',
            points: [
              [0, 0],
              [1, 0],
              [1, 1],
            ],
          },
        ],
        tiling: { rows: 2 },
      },
      admin,
    )
    await reg.seedCameraConfig('cam-hue-02', { tiling: { rows: 1 } }, { type: 'system', id: 'gateway.yaml' })
    await reg.audit({ type: 'user', id: lan.id, name: 'lan' }, 'user.login', 'lan', null)
    const answers = await answersOf(reg)
    return {
      secrets: { kim: kim.secret, off: off.secret, gone: gone.secret, grafana: grafana.secret },
      session,
      users: { lan, off2 },
      answers,
    }
  } finally {
    await reg.close()
  }
}

/** What the registry's API answers, page by page with small pages (so the cursors are used). */
async function answersOf(reg: DeviceRegistry) {
  const all = async <T>(list: (cursor: string | undefined) => Promise<{ items: T[]; next: string | null }>) => {
    const pages: Array<{ items: T[]; next: string | null }> = []
    let cursor: string | undefined
    do {
      const p = await list(cursor)
      pages.push(p)
      cursor = p.next ?? undefined
    } while (cursor)
    return pages
  }
  return {
    devices: await all((cursor) => reg.listDevices({}, { limit: 2, cursor })),
    disabled: await reg.listDevices({ state: 'disabled' }, { limit: 10 }),
    tokens: await all((cursor) => reg.listTokens({ limit: 1, cursor })),
    users: await all((cursor) => reg.users.listUsers({ limit: 1, cursor })),
    cameras: await reg.listCameraConfigs(),
    audit: await all((cursor) => reg.listAudit({ limit: 3, cursor })),
  }
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')

describe.skipIf(!ok)("seeding the PostgreSQL registry from a single node's registry.db", () => {
  const server = usePostgres()
  const cleanup = useCleanups()
  const dir = () => {
    const d = tempDir()
    cleanup(d.remove)
    return d.path
  }
  const lines: string[] = []
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) })
  const pool = (url: string) => {
    const p = openPgPool(url, { logger, max: 4 })
    cleanup(() => p.end())
    return p
  }
  /** A node: its own pool (as each gateway has), its data directory; the registry opened and seeded as gateway/app.ts does. */
  const open = async (url: string, dataDir: string, nodeId: string, keyFile?: string) => {
    const cluster = { pool: pool(url), nodeId }
    const reg = await openGatewayRegistry({ dataDir, keyFile, cluster, logger })
    cleanup(() => reg.close())
    await seedGatewayRegistry({ dataDir, cluster, logger })
    return reg
  }
  /** A data directory with no registry.db, holding the cluster's server key. */
  const keyOnly = (from: string) => {
    const d = dir()
    copyFileSync(join(from, 'server.key'), join(d, 'server.key'))
    return d
  }
  const record = async (p: pg.Pool) =>
    (await p.query('SELECT node, devices, credentials, tokens, users, sessions, cameras, audit FROM registry_seeded')).rows
  const count = async (p: pg.Pool, table: string) => Number((await p.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n)

  it('copies devices, tokens, users, sessions, camera configurations and the audit log as they are: the same answers, the same secrets', async () => {
    const single = dir()
    const made = await singleNode(single)
    const before = sha(join(single, 'registry.db'))
    lines.length = 0
    const url = await server.createDatabase()
    const p = pool(url)
    const reg = await open(url, single, 'node-a')

    expect(await answersOf(reg)).toEqual(made.answers)
    // A cursor the single node handed out pages on in the cluster.
    expect(await reg.listDevices({}, { limit: 2, cursor: made.answers.devices[0]!.next! })).toEqual(made.answers.devices[1])
    expect(await reg.listAudit({ limit: 3, cursor: made.answers.audit[1]!.next! })).toEqual(made.answers.audit[2])

    expect(await reg.authenticateDevice('kim-long-01', made.secrets.kim)).toMatchObject({ ok: true, device: { id: 'kim-long-01' } })
    expect(await reg.authenticateDevice('kim-long-01', made.secrets.off)).toEqual({ ok: false, reason: 'bad_secret' })
    expect(await reg.authenticateDevice('phu-oc-01', made.secrets.off)).toEqual({ ok: false, reason: 'device_disabled' })
    expect(await reg.authenticateDevice('old-cam-01', made.secrets.gone)).toEqual({ ok: false, reason: 'device_decommissioned' })
    expect((await reg.authenticateToken(made.secrets.grafana))?.name).toBe('grafana')
    expect((await reg.authenticateToken(ADMIN_TOKEN))?.role).toBe('admin')
    expect((await reg.users.checkPassword('lan', PASSWORD))?.id).toBe(made.users.lan.id)
    expect(await reg.users.checkPassword('minh', PASSWORD)).toBeUndefined()
    expect(await reg.users.findSession(made.session.id)).toMatchObject({ user: { name: 'lan' }, csrfToken: made.session.csrfToken })

    const audit = made.answers.audit.flatMap((a) => a.items)
    expect(await record(p)).toEqual([
      { node: 'node-a', devices: 4, credentials: 3, tokens: 2, users: 2, sessions: 1, cameras: 2, audit: audit.length },
    ])
    // The next entry is numbered after the copied ones.
    await reg.createDevice({ id: 'new-01', kind: 'camera', name: 'new' }, admin)
    expect((await reg.listAudit({ limit: 1 })).items[0]).toMatchObject({ id: audit[0]!.id + 1, action: 'device.create', target: 'new-01' })

    // registry.db was only read; the log has counts, never a secret or a hash.
    expect(sha(join(single, 'registry.db'))).toBe(before)
    const log = lines.join('')
    expect(log).toMatch(/seeded into PostgreSQL from this node's registry.db/)
    const hashes = (await p.query<{ h: string }>("SELECT encode(secret_hash, 'hex') AS h FROM device_credentials")).rows.map((r) => r.h)
    for (const s of [...Object.values(made.secrets), made.session.id, PASSWORD, ...hashes]) expect(log.includes(s)).toBe(false)
  }, 60_000)

  it('three nodes starting together on an empty database copy the one registry.db once, whichever comes first', async () => {
    for (const at of [0, 1, 2]) {
      const single = dir()
      const made = await singleNode(single)
      const dirs = [0, 1, 2].map((i) => (i === at ? single : keyOnly(single)))
      const url = await server.createDatabase()
      const regs = await Promise.all(dirs.map((d, i) => open(url, d, `node-${i}`)))
      const p = pool(url)
      expect(await record(p)).toEqual([expect.objectContaining({ node: `node-${at}`, devices: 4, tokens: 2, users: 2 })])
      expect(await count(p, 'devices')).toBe(4)
      expect(await count(p, 'audit_log')).toBe(made.answers.audit.flatMap((a) => a.items).length)
      for (const reg of regs) expect(await answersOf(reg)).toEqual(made.answers)
      for (const [i, d] of dirs.entries()) expect(existsSync(join(d, 'registry.db'))).toBe(i === at)
    }
  }, 120_000)

  it('is not repeated; a node without a registry.db, or with an unused one, records nothing and leaves the copy to the node that ran alone', async () => {
    const single = dir()
    const made = await singleNode(single)
    const url = await server.createDatabase()
    const p = pool(url)

    // First a node with no registry.db, writing what every node writes at start, then one whose
    // registry.db holds only that: neither records a seed, and no registry.db appears.
    const bare = keyOnly(single)
    const first = await open(url, bare, 'node-bare')
    await applyConfiguredAdminToken(first, ADMIN_TOKEN)
    await first.seedCameraConfig('cam-hue-01', { tiling: { rows: 9 } }, { type: 'system', id: 'gateway.yaml' })
    const unused = keyOnly(single)
    const u = openRegistry(unused)
    await applyConfiguredAdminToken(u, ADMIN_TOKEN)
    await u.close()
    await open(url, unused, 'node-unused')
    expect(await record(p)).toEqual([])
    expect(existsSync(join(bare, 'registry.db'))).toBe(false)

    // The node that ran alone, a moment later, still copies: its configuration over gateway.yaml's,
    // its audit entries with their ids, the entries written at start after them.
    const reg = await open(url, single, 'node-single')
    expect(await record(p)).toEqual([expect.objectContaining({ node: 'node-single', devices: 4, tokens: 1, users: 2, cameras: 2 })])
    const now = await answersOf(reg)
    expect(now.devices).toEqual(made.answers.devices)
    expect(now.cameras).toEqual(made.answers.cameras)
    expect(now.tokens.flatMap((t) => t.items)).toHaveLength(2)
    const copied = made.answers.audit.flatMap((a) => a.items)
    const audit = now.audit.flatMap((a) => a.items)
    expect(audit.slice(-copied.length)).toEqual(copied)
    expect(audit.slice(0, -copied.length).map((e) => [e.id, e.action])).toEqual([
      [copied[0]!.id + 2, 'camera.config.seed'],
      [copied[0]!.id + 1, 'token.create'],
    ])
    expect((await reg.authenticateToken(ADMIN_TOKEN))?.role).toBe('admin')

    // Changed after the seed, then every node restarted: the change stays.
    await reg.removeDevice('kim-long-01', admin)
    const grafana = made.answers.tokens.flatMap((t) => t.items).find((t) => t.name === 'grafana')!
    await reg.deleteToken(grafana.id, admin)
    const again = await open(url, single, 'node-single')
    await open(url, bare, 'node-bare')
    expect(await again.authenticateDevice('kim-long-01', made.secrets.kim)).toEqual({ ok: false, reason: 'device_decommissioned' })
    expect(await again.authenticateToken(made.secrets.grafana)).toBeUndefined()
    expect(await record(p)).toHaveLength(1)
    // The node that copied its registry.db, started again, has nothing to say of it; the bare one had nothing to copy.
    expect(lines.join('')).not.toMatch(/was not copied/)
  }, 60_000)

  it('copies nothing into a registry already in use, and records it as seeded by (in use)', async () => {
    const single = dir()
    const made = await singleNode(single)
    lines.length = 0

    // In use through the API of a node that never ran alone.
    const url = await server.createDatabase()
    const p = pool(url)
    const other = await open(url, keyOnly(single), 'node-b')
    await other.createDevice({ id: 'cluster-01', kind: 'camera', name: 'made in the cluster' }, admin)
    const reg = await open(url, single, 'node-single')
    expect(await record(p)).toEqual([
      { node: '(in use)', devices: 0, credentials: 0, tokens: 0, users: 0, sessions: 0, cameras: 0, audit: 0 },
    ])
    expect((await reg.listDevices({}, { limit: 10 })).items.map((d) => d.id)).toEqual(['cluster-01'])
    expect(await reg.authenticateDevice('kim-long-01', made.secrets.kim)).toEqual({ ok: false, reason: 'unknown_device' })
    expect(lines.join('')).toMatch(/"level":40.*this node's registry.db was not copied into PostgreSQL: the cluster's tables were in use/)

    // In use before the seed record existed (a cluster of an earlier version).
    const oldUrl = await server.createDatabase()
    const old = pool(oldUrl)
    await migratePg(old, REGISTRY_PG_MIGRATIONS.slice(0, 1), REGISTRY_PG_MIGRATIONS_TABLE)
    await old.query(
      "INSERT INTO devices (id, kind, name, created_at, updated_at) VALUES ('before-01', 'camera', 'c', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')",
    )
    const later = await open(oldUrl, single, 'node-single')
    expect(await record(old)).toEqual([expect.objectContaining({ node: '(in use)', devices: 0 })])
    expect((await later.listDevices({}, { limit: 10 })).items.map((d) => d.id)).toEqual(['before-01'])
  }, 60_000)

  it('with server.keyFile naming another key than the one beside a used registry.db, stops before touching the cluster; with that key copied there, copies', async () => {
    const single = dir()
    const made = await singleNode(single)
    const url = await server.createDatabase()
    const p = pool(url)
    const keyFile = join(dir(), 'cluster-key', 'server.key')
    const node = () => open(url, single, 'node-a', keyFile)
    await expect(node()).rejects.toThrow(/registry.db was made with .*server.key, not with the key this node uses/)
    // Nothing recorded, its key's fingerprint included: put right, the same node starts on the same database.
    expect((await p.query("SELECT to_regclass('registry_server_key') AS t")).rows).toEqual([{ t: null }])
    copyFileSync(join(single, 'server.key'), keyFile)
    const reg = await node()
    expect(await reg.authenticateDevice('kim-long-01', made.secrets.kim)).toMatchObject({ ok: true })
    expect(await record(p)).toEqual([expect.objectContaining({ node: 'node-a', devices: 4 })])
  })

  it('reads a registry.db of an earlier version as it is: tables it has not yet are empty, a column it lacks is null', async () => {
    const single = dir()
    const db = new Database(join(single, 'registry.db'))
    migrate(db, MIGRATIONS.slice(0, 1))
    const hash = SecretHasher.fromKeyFile(join(single, 'server.key')).hash('the old secret')
    const at = '2024-03-01T00:00:00.000Z'
    db.prepare("INSERT INTO devices (id, kind, name, created_at, updated_at) VALUES ('v1-01', 'camera', 'c', ?, ?)").run(at, at)
    db.prepare("INSERT INTO device_credentials (device_id, secret_hash, created_at) VALUES ('v1-01', ?, ?)").run(hash, at)
    db.prepare(
      "INSERT INTO audit_log (ts, actor_type, actor_id, action, target, detail) VALUES (?, 'token', 'tok-1', 'device.create', 'v1-01', '{\"kind\":\"camera\"}')",
    ).run(at)
    db.close()
    const url = await server.createDatabase()
    const reg = await open(url, single, 'node-v1')
    expect(await reg.authenticateDevice('v1-01', 'the old secret')).toMatchObject({ ok: true })
    expect((await reg.listAudit({ limit: 5 })).items).toEqual([
      {
        id: 1,
        ts: at,
        actor_type: 'token',
        actor_id: 'tok-1',
        actor_name: null,
        action: 'device.create',
        target: 'v1-01',
        detail: { kind: 'camera' },
      },
    ])
    expect(await record(pool(url))).toEqual([
      { node: 'node-v1', devices: 1, credentials: 1, tokens: 0, users: 0, sessions: 0, cameras: 0, audit: 1 },
    ])
    // Read, not migrated.
    const after = new Database(join(single, 'registry.db'), { readonly: true })
    expect(after.prepare("SELECT name FROM sqlite_master WHERE name = 'users'").get()).toBeUndefined()
    after.close()
  }, 60_000)
})
