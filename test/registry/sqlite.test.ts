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
  afterEach(() => {
    reg.close()
    dir.remove()
  })

  it('registers a device with a generated id and a secret that authenticates', () => {
    const { device, secret } = reg.createDevice({ kind: 'water_level', name: 'Trạm Kim Long', station: 'kim-long' }, actor)
    expect(device.id).toMatch(/^wl-[0-9a-f]{10}$/)
    expect(device.name).toBe('Trạm Kim Long')
    expect(device.state).toBe('active')
    expect(Buffer.from(secret, 'base64url').length).toBeGreaterThanOrEqual(16)
    expect(reg.authenticateDevice(device.id, secret)).toMatchObject({ ok: true, device: { id: device.id } })
    expect(reg.authenticateDevice(device.id, `${secret}x`)).toEqual({ ok: false, reason: 'bad_secret' })
    expect(reg.authenticateDevice('nope-123', secret)).toEqual({ ok: false, reason: 'unknown_device' })
  })

  it('refuses a duplicate or malformed id', () => {
    reg.createDevice({ id: 'kim-long-01', kind: 'water_level', name: 'a' }, actor)
    expect(() => reg.createDevice({ id: 'kim-long-01', kind: 'water_level', name: 'b' }, actor)).toThrow(/already exists/)
    expect(() => reg.createDevice({ id: '../x', kind: 'water_level', name: 'b' }, actor)).toThrow(/must match/)
  })

  it('stores secrets and tokens only as keyed hashes', () => {
    const { secret } = reg.createDevice({ id: 'dev-001', kind: 'camera', name: 'c' }, actor)
    const { secret: token } = reg.createToken({ role: 'admin', name: 'ops' }, actor)
    reg.close()
    for (const f of readdirSync(dir.path)) {
      const p = join(dir.path, f)
      if (!statSync(p).isFile()) continue
      const bytes = readFileSync(p)
      expect(bytes.includes(Buffer.from(secret)), f).toBe(false)
      expect(bytes.includes(Buffer.from(token)), f).toBe(false)
    }
    expect(statSync(join(dir.path, 'server.key')).mode & 0o777).toBe(0o600)
    reg = openRegistry(dir.path)
    expect(reg.authenticateDevice('dev-001', secret).ok).toBe(true)
    expect(reg.authenticateToken(token)?.role).toBe('admin')
  })

  it('rotating, disabling and removing revoke at once', () => {
    const events: RevocationEvent[] = []
    reg.onRevocation((e) => events.push(e))
    const { secret } = reg.createDevice({ id: 'dev-002', kind: 'rain_gauge', name: 'r' }, actor)
    const { secret: fresh } = reg.rotateSecret('dev-002', actor)
    expect(reg.authenticateDevice('dev-002', secret)).toEqual({ ok: false, reason: 'bad_secret' })
    expect(reg.authenticateDevice('dev-002', fresh).ok).toBe(true)
    reg.updateDevice('dev-002', { state: 'disabled' }, actor)
    expect(reg.authenticateDevice('dev-002', fresh)).toEqual({ ok: false, reason: 'device_disabled' })
    reg.updateDevice('dev-002', { state: 'active' }, actor)
    expect(reg.authenticateDevice('dev-002', fresh).ok).toBe(true)
    reg.removeDevice('dev-002', actor)
    expect(reg.authenticateDevice('dev-002', fresh)).toEqual({ ok: false, reason: 'device_decommissioned' })
    expect(() => reg.rotateSecret('dev-002', actor)).toThrow(/decommissioned/)
    expect(events.map((e) => e.reason)).toEqual(['secret_rotated', 'disabled', 'removed'])
  })

  it('lists with filters and cursor paging', () => {
    for (let i = 0; i < 7; i++)
      reg.createDevice({ id: `gauge-${i}`, kind: 'water_level', name: `g${i}`, station: i % 2 ? 'kim-long' : 'phu-oc' }, actor)
    reg.createDevice({ id: 'cam-001', kind: 'camera', name: 'c' }, actor)
    const seen: string[] = []
    let cursor: string | undefined
    do {
      const page = reg.listDevices({ kind: 'water_level' }, { limit: 3, cursor })
      seen.push(...page.items.map((d) => d.id))
      cursor = page.next ?? undefined
    } while (cursor)
    expect(seen).toEqual(['gauge-0', 'gauge-1', 'gauge-2', 'gauge-3', 'gauge-4', 'gauge-5', 'gauge-6'])
    expect(reg.listDevices({ station: 'kim-long' }, { limit: 50 }).items.map((d) => d.id)).toEqual(['gauge-1', 'gauge-3', 'gauge-5'])
  })

  it('keeps an audit log of who changed what', () => {
    const who: Actor = { type: 'token', id: 'tok-abc', name: 'tech' }
    reg.createDevice({ id: 'dev-003', kind: 'air_quality', name: 'a' }, who)
    reg.updateDevice('dev-003', { name: 'b' }, who)
    const log = reg.listAudit({ limit: 10 }).items
    expect(log.map((e) => e.action)).toEqual(['device.update', 'device.create'])
    expect(log[0]).toMatchObject({ actor_type: 'token', actor_id: 'tok-abc', actor_name: 'tech', target: 'dev-003', detail: { name: 'b' } })
  })

  it('tokens: create, authenticate, delete', () => {
    expect(reg.hasAdminToken()).toBe(false)
    const { token, secret } = reg.createToken({ role: 'officer', name: 'duty' }, actor)
    expect(secret.startsWith('iocgw_')).toBe(true)
    expect(reg.authenticateToken(secret)?.id).toBe(token.id)
    expect(reg.authenticateToken('iocgw_wrong')).toBeUndefined()
    reg.deleteToken(token.id, actor)
    expect(reg.authenticateToken(secret)).toBeUndefined()
    expect(() => reg.deleteToken(token.id, actor)).toThrow(/does not exist/)
  })
})

describe('bootstrap token', () => {
  it('ensureToken is idempotent for the same secret', () => {
    const dir = tempDir()
    const reg = openRegistry(dir.path)
    try {
      const a = reg.ensureToken({ role: 'admin', name: 'bootstrap', secret: 'a-long-bootstrap-secret' }, actor)
      const b = reg.ensureToken({ role: 'admin', name: 'bootstrap', secret: 'a-long-bootstrap-secret' }, actor)
      expect(b.id).toBe(a.id)
      expect(reg.hasAdminToken()).toBe(true)
      expect(reg.authenticateToken('a-long-bootstrap-secret')?.id).toBe(a.id)
    } finally {
      reg.close()
      dir.remove()
    }
  })
})

describe('reserved ids and token revocation', () => {
  it('refuses the id "token" and announces deleted tokens', () => {
    const dir = tempDir()
    const reg = openRegistry(dir.path)
    try {
      expect(() => reg.createDevice({ id: 'token', kind: 'camera', name: 'x' }, actor)).toThrow(/reserved/)
      const revoked: string[] = []
      reg.onTokenRevocation((id) => revoked.push(id))
      const { token } = reg.createToken({ role: 'viewer', name: 'grafana' }, actor)
      reg.deleteToken(token.id, actor)
      expect(revoked).toEqual([token.id])
    } finally {
      reg.close()
      dir.remove()
    }
  })
})

describe('camera configuration', () => {
  it('seeds only a camera without one, replaces on set, audits both, and survives a reopen', () => {
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
      expect(reg.getCameraConfig('cam-seed-01')).toBeUndefined()
      expect(reg.seedCameraConfig('cam-seed-01', yaml, { type: 'system', id: 'gateway.yaml' })).toBe(true)
      const put = reg.setCameraConfig('cam-seed-01', { tiling: { enabled: false } }, actor)
      // A later start with another gateway.yaml does not overwrite what the API stored.
      expect(reg.seedCameraConfig('cam-seed-01', yaml, { type: 'system', id: 'gateway.yaml' })).toBe(false)
      reg.close()
      reg = openRegistry(dir.path)
      expect(reg.getCameraConfig('cam-seed-01')).toEqual({
        camera: 'cam-seed-01',
        config: { tiling: { enabled: false } },
        updated_at: put.updated_at,
      })
      expect(reg.listCameraConfigs().map((c) => c.camera)).toEqual(['cam-seed-01'])
      expect(reg.listAudit({ limit: 10 }).items.map((a) => [a.action, a.actor_id, a.detail])).toEqual([
        ['camera.config', 'test', { tiling: { enabled: false } }],
        ['camera.config.seed', 'gateway.yaml', yaml],
      ])
    } finally {
      reg.close()
      dir.remove()
    }
  })
})
