import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Actor, DeviceRegistry, RevocationEvent } from '../../gateway/registry/types.ts'
import { RegistryError } from '../../gateway/registry/types.ts'

// The registry's contract (gateway/registry/types.ts), run on every implementation: SQLite
// (contract-sqlite.test.ts) and PostgreSQL (contract-postgres.test.ts). What is specific to one
// storage (files on disk, LISTEN/NOTIFY between nodes) is tested next to it.

export interface RegistryFixture {
  registry: DeviceRegistry
  /** Closes and opens the same storage again (a restart). */
  reopen(): Promise<DeviceRegistry>
  /** Closes everything and deletes the storage. */
  dispose(): Promise<void>
}

const actor: Actor = { type: 'system', id: 'test' }
const who: Actor = { type: 'token', id: 'tok-abc', name: 'tech' }

export function registryContract(name: string, make: () => Promise<RegistryFixture>): void {
  describe(`registry contract: ${name}`, () => {
    let fx: RegistryFixture
    let reg: DeviceRegistry

    beforeEach(async () => {
      fx = await make()
      reg = fx.registry
    })
    afterEach(async () => {
      await fx.dispose()
    })

    it('registers a device with a generated id and a secret that authenticates; answers each refusal by its reason', async () => {
      const { device, secret } = await reg.createDevice(
        { kind: 'water_level', name: 'Trạm Kim Long', station: 'kim-long', location: { lat: 16.47, lon: 107.58 }, tags: ['song-huong'] },
        actor,
      )
      expect(device.id).toMatch(/^wl-[0-9a-f]{10}$/)
      expect(device).toMatchObject({ name: 'Trạm Kim Long', state: 'active', location: { lat: 16.47, lon: 107.58 }, tags: ['song-huong'] })
      expect(Buffer.from(secret, 'base64url').length).toBeGreaterThanOrEqual(16)
      expect(await reg.getDevice(device.id)).toEqual(device)
      expect(await reg.authenticateDevice(device.id, secret)).toEqual({ ok: true, device })
      expect(await reg.authenticateDevice(device.id, `${secret}x`)).toEqual({ ok: false, reason: 'bad_secret' })
      expect(await reg.authenticateDevice('nope-123', secret)).toEqual({ ok: false, reason: 'unknown_device' })
      expect(await reg.getDevice('nope-123')).toBeUndefined()
    })

    it('refuses a duplicate, malformed or reserved id with a RegistryError of the right code', async () => {
      await reg.createDevice({ id: 'kim-long-01', kind: 'water_level', name: 'a' }, actor)
      const dup = await reg.createDevice({ id: 'kim-long-01', kind: 'water_level', name: 'b' }, actor).catch((e: unknown) => e)
      expect(dup).toBeInstanceOf(RegistryError)
      expect(dup).toMatchObject({ code: 'conflict', message: expect.stringMatching(/already exists/) })
      await expect(reg.createDevice({ id: '../x', kind: 'water_level', name: 'b' }, actor)).rejects.toMatchObject({ code: 'invalid' })
      await expect(reg.createDevice({ id: 'token', kind: 'camera', name: 'x' }, actor)).rejects.toThrow(/reserved/)
      await expect(reg.updateDevice('nope-123', { name: 'x' }, actor)).rejects.toMatchObject({ code: 'not_found' })
      await expect(reg.removeDevice('nope-123', actor)).rejects.toMatchObject({ code: 'not_found' })
      await expect(reg.rotateSecret('nope-123', actor)).rejects.toMatchObject({ code: 'not_found' })
    })

    it('rotating, disabling and removing revoke at once, and announce it', async () => {
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
      await expect(reg.rotateSecret('dev-002', actor)).rejects.toMatchObject({ code: 'conflict' })
      await expect(reg.updateDevice('dev-002', { state: 'active' }, actor)).rejects.toMatchObject({ code: 'conflict' })
      expect(events).toEqual([
        { deviceId: 'dev-002', reason: 'secret_rotated' },
        { deviceId: 'dev-002', reason: 'disabled' },
        { deviceId: 'dev-002', reason: 'removed' },
      ])
    })

    it('lists with filters, a scope and cursor paging', async () => {
      for (let i = 0; i < 7; i++) {
        await reg.createDevice(
          {
            id: `gauge-${i}`,
            kind: 'water_level',
            name: `g${i}`,
            station: i % 2 ? 'kim-long' : 'phu-oc',
            district: i < 3 ? 'Phú Xuân' : null,
          },
          actor,
        )
      }
      await reg.createDevice({ id: 'cam-001', kind: 'camera', name: 'c' }, actor)
      await reg.updateDevice('gauge-6', { state: 'disabled' }, actor)
      const seen: string[] = []
      let cursor: string | undefined
      do {
        const page = await reg.listDevices({ kind: 'water_level' }, { limit: 3, cursor })
        expect(page.items.length).toBeLessThanOrEqual(3)
        seen.push(...page.items.map((d) => d.id))
        cursor = page.next ?? undefined
      } while (cursor)
      expect(seen).toEqual(['gauge-0', 'gauge-1', 'gauge-2', 'gauge-3', 'gauge-4', 'gauge-5', 'gauge-6'])
      const ids = async (f: Parameters<DeviceRegistry['listDevices']>[0]) =>
        (await reg.listDevices(f, { limit: 50 })).items.map((d) => d.id)
      expect(await ids({ station: 'kim-long' })).toEqual(['gauge-1', 'gauge-3', 'gauge-5'])
      expect(await ids({ state: 'disabled' })).toEqual(['gauge-6'])
      expect(await ids({ scope: { districts: ['Phú Xuân'], stations: [] } })).toEqual(['gauge-0', 'gauge-1', 'gauge-2'])
      expect(await ids({ scope: { districts: ['Phú Xuân'], stations: ['kim-long'] } })).toEqual([
        'gauge-0',
        'gauge-1',
        'gauge-2',
        'gauge-3',
        'gauge-5',
      ])
      expect(await ids({ scope: { districts: [], stations: [] } })).toEqual([])
      expect(await ids({ kind: 'camera' })).toEqual(['cam-001'])
    })

    it('keeps an audit log of who changed what, newest first, in pages', async () => {
      await reg.createDevice({ id: 'dev-003', kind: 'air_quality', name: 'a' }, who)
      await reg.updateDevice('dev-003', { name: 'b' }, who)
      await reg.audit({ type: 'user', id: 'usr-1', name: 'lan' }, 'user.login', 'lan', { address: '10.0.0.9' })
      const first = await reg.listAudit({ limit: 2 })
      expect(first.items.map((e) => e.action)).toEqual(['user.login', 'device.update'])
      expect(first.items[1]).toMatchObject({
        actor_type: 'token',
        actor_id: 'tok-abc',
        actor_name: 'tech',
        target: 'dev-003',
        detail: { name: 'b' },
      })
      expect(typeof first.items[0]!.id).toBe('number')
      const second = await reg.listAudit({ limit: 2, cursor: first.next! })
      expect(second.items.map((e) => e.action)).toEqual(['device.create'])
      expect(second.next).toBeNull()
    })

    it('tokens: create, authenticate, list, delete (announced), bootstrap idempotent', async () => {
      const revoked: string[] = []
      reg.onTokenRevocation((id) => revoked.push(id))
      expect(await reg.hasAdminToken()).toBe(false)
      const { token, secret } = await reg.createToken({ role: 'officer', name: 'duty' }, actor)
      expect(secret.startsWith('iocgw_')).toBe(true)
      expect((await reg.authenticateToken(secret))?.id).toBe(token.id)
      expect(await reg.authenticateToken('iocgw_wrong')).toBeUndefined()
      const a = await reg.ensureToken({ role: 'admin', name: 'bootstrap', secret: 'a-long-bootstrap-secret' }, actor)
      const b = await reg.ensureToken({ role: 'admin', name: 'bootstrap', secret: 'a-long-bootstrap-secret' }, actor)
      expect(b.id).toBe(a.id)
      expect(await reg.hasAdminToken()).toBe(true)
      const page1 = await reg.listTokens({ limit: 1 })
      const page2 = await reg.listTokens({ limit: 1, cursor: page1.next! })
      expect([...page1.items, ...page2.items].map((t) => t.id).sort()).toEqual([a.id, token.id].sort())
      expect(page2.next).toBeNull()
      await reg.deleteToken(token.id, actor)
      expect(await reg.authenticateToken(secret)).toBeUndefined()
      await expect(reg.deleteToken(token.id, actor)).rejects.toMatchObject({ code: 'not_found' })
      expect(revoked).toEqual([token.id])
    })

    it('users: scrypt passwords, conflicts, paging, and sessions that updates end', async () => {
      const u = reg.users
      expect(await u.hasUsers()).toBe(false)
      const lan = await u.createUser(
        { name: 'lan', role: 'officer', password: 'mật khẩu đủ dài', districts: ['Phú Xuân', 'Phú Xuân'] },
        actor,
      )
      expect(lan).toMatchObject({ name: 'lan', role: 'officer', districts: ['Phú Xuân'], stations: [], disabled: false })
      await expect(u.createUser({ name: 'lan', role: 'viewer', password: 'another long one' }, actor)).rejects.toMatchObject({
        code: 'conflict',
      })
      await expect(u.createUser({ name: 'Bad Name', role: 'viewer', password: 'another long one' }, actor)).rejects.toMatchObject({
        code: 'invalid',
      })
      await u.createUser({ name: 'minh', role: 'viewer', password: 'another long one' }, actor)
      expect((await u.checkPassword('lan', 'mật khẩu đủ dài'))?.id).toBe(lan.id)
      expect(await u.checkPassword('lan', 'wrong password!')).toBeUndefined()
      expect(await u.checkPassword('nobody', 'wrong password!')).toBeUndefined()
      const p1 = await u.listUsers({ limit: 1 })
      expect(p1.items.map((x) => x.name)).toEqual(['lan'])
      expect((await u.listUsers({ limit: 1, cursor: p1.next! })).items.map((x) => x.name)).toEqual(['minh'])

      const s1 = await u.createSession(lan.id, 1_000)
      const s2 = await u.createSession(lan.id, 2_000)
      expect(await u.findSession(s1.id)).toMatchObject({
        user: { name: 'lan' },
        csrfToken: s1.csrfToken,
        createdMs: 1_000,
        lastSeenMs: 1_000,
      })
      await u.touchSession(s1.id, 5_000)
      expect((await u.findSession(s1.id))?.lastSeenMs).toBe(5_000)
      await u.setPassword('lan', 'một mật khẩu mới', actor, s1.id)
      expect(await u.findSession(s2.id)).toBeUndefined()
      expect(await u.findSession(s1.id)).toBeDefined()
      expect(await u.checkPassword('lan', 'một mật khẩu mới')).toBeDefined()
      const updated = await u.updateUser('lan', { role: 'viewer', stations: ['kim-long'] }, actor)
      expect(updated).toMatchObject({ role: 'viewer', stations: ['kim-long'], districts: ['Phú Xuân'] })
      expect(await u.findSession(s1.id)).toBeUndefined()
      await u.updateUser('lan', { disabled: true }, actor)
      expect(await u.checkPassword('lan', 'một mật khẩu mới')).toBeUndefined()
      await expect(u.updateUser('nobody', { role: 'viewer' }, actor)).rejects.toMatchObject({ code: 'not_found' })

      const old = await u.createSession(lan.id, 1_000)
      const live = await u.createSession(lan.id, 9_000)
      expect(await u.deleteExpiredSessions(5_000, 0)).toBe(1)
      expect(await u.findSession(old.id)).toBeUndefined()
      expect(await u.deleteUserSessions(lan.id)).toBe(1)
      expect(await u.findSession(live.id)).toBeUndefined()
      const actions = (await reg.listAudit({ limit: 20 })).items.filter((e) => e.target === 'lan').map((e) => e.action)
      expect(actions).toEqual(['user.disable', 'user.update', 'user.password', 'user.create'])
    })

    it('camera configuration: seeds only a camera without one, replaces on set, audits both, and survives a reopen', async () => {
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
      reg = await fx.reopen()
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
    })

    it('keeps devices, secrets and tokens over a reopen', async () => {
      const { secret } = await reg.createDevice({ id: 'dev-001', kind: 'camera', name: 'c' }, actor)
      const { secret: token } = await reg.createToken({ role: 'admin', name: 'ops' }, actor)
      reg = await fx.reopen()
      expect((await reg.authenticateDevice('dev-001', secret)).ok).toBe(true)
      expect((await reg.authenticateToken(token))?.role).toBe('admin')
    })
  })
}
