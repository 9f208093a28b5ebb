import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openRegistry, type SqliteRegistry } from '../../gateway/registry/sqlite.ts'
import type { Actor, RevocationEvent } from '../../gateway/registry/types.ts'
import { tempDir } from '../support/services.ts'

const actor: Actor = { type: 'system', id: 'test' }

describe('SQLite registry', () => {
  let dir: ReturnType<typeof tempDir>
  let reg: SqliteRegistry

  beforeEach(() => {
    dir = tempDir()
    reg = openRegistry(dir.path)
  })
  afterEach(async () => {
    await reg.close()
    dir.remove()
  })

  it('registers a device with a generated id and a secret that authenticates', async () => {
    const { device, secret } = await reg.createDevice({ kind: 'water_level', name: 'Trạm Kim Long', station: 'kim-long' }, actor)
    expect(device.id).toMatch(/^wl-[0-9a-f]{10}$/)
    expect(device.name).toBe('Trạm Kim Long')
    expect(device.state).toBe('active')
    expect(Buffer.from(secret, 'base64url').length).toBeGreaterThanOrEqual(16)
    expect(await reg.authenticateDevice(device.id, secret)).toMatchObject({ ok: true, device: { id: device.id } })
    expect(await reg.authenticateDevice(device.id, `${secret}x`)).toEqual({ ok: false, reason: 'bad_secret' })
    expect(await reg.authenticateDevice('nope-123', secret)).toEqual({ ok: false, reason: 'unknown_device' })
  })

  it('refuses a duplicate or malformed id', async () => {
    await reg.createDevice({ id: 'kim-long-01', kind: 'water_level', name: 'a' }, actor)
    await expect(reg.createDevice({ id: 'kim-long-01', kind: 'water_level', name: 'b' }, actor)).rejects.toThrow(/already exists/)
    await expect(reg.createDevice({ id: '../x', kind: 'water_level', name: 'b' }, actor)).rejects.toThrow(/must match/)
  })

  it('stores secrets and tokens only as keyed hashes', async () => {
    const { secret } = await reg.createDevice({ id: 'dev-001', kind: 'camera', name: 'c' }, actor)
    const { secret: token } = await reg.createToken({ role: 'admin', name: 'ops' }, actor)
    await reg.close()
    for (const f of readdirSync(dir.path)) {
      const p = join(dir.path, f)
      if (!statSync(p).isFile()) continue
      const bytes = readFileSync(p)
      expect(bytes.includes(Buffer.from(secret)), f).toBe(false)
      expect(bytes.includes(Buffer.from(token)), f).toBe(false)
    }
    expect(statSync(join(dir.path, 'server.key')).mode & 0o777).toBe(0o600)
    reg = openRegistry(dir.path)
    expect((await reg.authenticateDevice('dev-001', secret)).ok).toBe(true)
    expect((await reg.authenticateToken(token))?.role).toBe('admin')
  })

  it('rotating, disabling and removing revoke at once', async () => {
    const events: RevocationEvent[] = []
    reg.onRevocation((e) => events.push(e))
    const { secret } = await reg.createDevice({ id: 'dev-002', kind: 'rain_gauge', name: 'r' }, actor)
    const { secret: fresh } = await reg.rotateSecret('dev-002', actor)
    expect(await reg.authenticateDevice('dev-002', secret)).toEqual({ ok: false, reason: 'bad_secret' })
    expect((await reg.authenticateDevice('dev-002', fresh)).ok).toBe(true)
    await reg.updateDevice('dev-002', { state: 'disabled' }, actor)
    expect(await reg.authenticateDevice('dev-002', fresh)).toEqual({ ok: false, reason: 'device_disabled' })
    await reg.updateDevice('dev-002', { state: 'active' }, actor)
    expect((await reg.authenticateDevice('dev-002', fresh)).ok).toBe(true)
    await reg.removeDevice('dev-002', actor)
    expect(await reg.authenticateDevice('dev-002', fresh)).toEqual({ ok: false, reason: 'device_decommissioned' })
    await expect(reg.rotateSecret('dev-002', actor)).rejects.toThrow(/decommissioned/)
    expect(events.map((e) => e.reason)).toEqual(['secret_rotated', 'disabled', 'removed'])
  })

  it('lists with filters and cursor paging', async () => {
    for (let i = 0; i < 7; i++)
      await reg.createDevice({ id: `gauge-${i}`, kind: 'water_level', name: `g${i}`, station: i % 2 ? 'kim-long' : 'phu-oc' }, actor)
    await reg.createDevice({ id: 'cam-001', kind: 'camera', name: 'c' }, actor)
    const seen: string[] = []
    let cursor: string | undefined
    do {
      const page = await reg.listDevices({ kind: 'water_level' }, { limit: 3, cursor })
      seen.push(...page.items.map((d) => d.id))
      cursor = page.next ?? undefined
    } while (cursor)
    expect(seen).toEqual(['gauge-0', 'gauge-1', 'gauge-2', 'gauge-3', 'gauge-4', 'gauge-5', 'gauge-6'])
    expect((await reg.listDevices({ station: 'kim-long' }, { limit: 50 })).items.map((d) => d.id)).toEqual(['gauge-1', 'gauge-3', 'gauge-5'])
  })

  it('keeps an audit log of who changed what', async () => {
    const who: Actor = { type: 'token', id: 'tok-abc', name: 'tech' }
    await reg.createDevice({ id: 'dev-003', kind: 'air_quality', name: 'a' }, who)
    await reg.updateDevice('dev-003', { name: 'b' }, who)
    const log = (await reg.listAudit({ limit: 10 })).items
    expect(log.map((e) => e.action)).toEqual(['device.update', 'device.create'])
    expect(log[0]).toMatchObject({ actor_type: 'token', actor_id: 'tok-abc', actor_name: 'tech', target: 'dev-003', detail: { name: 'b' } })
  })

  it('tokens: create, authenticate, delete', async () => {
    expect(await reg.hasAdminToken()).toBe(false)
    const { token, secret } = await reg.createToken({ role: 'officer', name: 'duty' }, actor)
    expect(secret.startsWith('iocgw_')).toBe(true)
    expect((await reg.authenticateToken(secret))?.id).toBe(token.id)
    expect(await reg.authenticateToken('iocgw_wrong')).toBeUndefined()
    await reg.deleteToken(token.id, actor)
    expect(await reg.authenticateToken(secret)).toBeUndefined()
    await expect(reg.deleteToken(token.id, actor)).rejects.toThrow(/does not exist/)
  })
})

describe('bootstrap token', () => {
  it('ensureToken is idempotent for the same secret', async () => {
    const dir = tempDir()
    const reg = openRegistry(dir.path)
    try {
      const a = await reg.ensureToken({ role: 'admin', name: 'bootstrap', secret: 'a-long-bootstrap-secret' }, actor)
      const b = await reg.ensureToken({ role: 'admin', name: 'bootstrap', secret: 'a-long-bootstrap-secret' }, actor)
      expect(b.id).toBe(a.id)
      expect(await reg.hasAdminToken()).toBe(true)
      expect((await reg.authenticateToken('a-long-bootstrap-secret'))?.id).toBe(a.id)
    } finally {
      await reg.close()
      dir.remove()
    }
  })
})

describe('reserved ids and token revocation', () => {
  it('refuses the id "token" and announces deleted tokens', async () => {
    const dir = tempDir()
    const reg = openRegistry(dir.path)
    try {
      await expect(reg.createDevice({ id: 'token', kind: 'camera', name: 'x' }, actor)).rejects.toThrow(/reserved/)
      const revoked: string[] = []
      reg.onTokenRevocation((id) => revoked.push(id))
      const { token } = await reg.createToken({ role: 'viewer', name: 'grafana' }, actor)
      await reg.deleteToken(token.id, actor)
      expect(revoked).toEqual([token.id])
    } finally {
      await reg.close()
      dir.remove()
    }
  })
})

describe('camera configuration', () => {
  it('seeds only a camera without one, replaces on set, audits both, and survives a reopen', async () => {
    const dir = tempDir()
    let reg = openRegistry(dir.path)
    try {
      const yaml = {
        zones: [
          {
            id: 'all-lanes',
            kind: 'count',
            polygon: [
              [0, 0],
              [1, 0],
              [1, 1],
            ],
          },
        ],
      }
      expect(await reg.getCameraConfig('cam-seed-01')).toBeUndefined()
      expect(await reg.seedCameraConfig('cam-seed-01', yaml, { type: 'system', id: 'gateway.yaml' })).toBe(true)
      const put = await reg.setCameraConfig('cam-seed-01', { tiling: { enabled: false } }, actor)
      // A later start with another gateway.yaml does not overwrite what the API stored.
      expect(await reg.seedCameraConfig('cam-seed-01', yaml, { type: 'system', id: 'gateway.yaml' })).toBe(false)
      await reg.close()
      reg = openRegistry(dir.path)
      expect(await reg.getCameraConfig('cam-seed-01')).toEqual({
        camera: 'cam-seed-01',
        config: { tiling: { enabled: false } },
        updated_at: put.updated_at,
      })
      expect((await reg.listCameraConfigs()).map((c) => c.camera)).toEqual(['cam-seed-01'])
      expect((await reg.listAudit({ limit: 10 })).items.map((a) => [a.action, a.actor_id, a.detail])).toEqual([
        ['camera.config', 'test', { tiling: { enabled: false } }],
        ['camera.config.seed', 'gateway.yaml', yaml],
      ])
    } finally {
      await reg.close()
      dir.remove()
    }
  })
})
