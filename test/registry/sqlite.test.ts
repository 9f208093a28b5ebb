import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openRegistry, type SqliteRegistry } from '../../gateway/registry/sqlite.ts'
import type { Actor } from '../../gateway/registry/types.ts'
import { tempDir } from '../support/services.ts'

// What is specific to the SQLite files; the interface's behaviour is in contract.ts (contract-sqlite.test.ts).

const actor: Actor = { type: 'system', id: 'test' }

describe('SQLite registry files', () => {
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

  it('stores secrets and tokens only as keyed hashes, with a server key of mode 0600', async () => {
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
})
