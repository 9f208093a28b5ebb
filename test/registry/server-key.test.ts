import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { SecretHasher } from '../../gateway/registry/secrets.ts'
import { ROOT } from '../support/gateway-process.ts'
import { tempDir } from '../support/services.ts'

// The server key's file (docs/operations.md "Server key"): made on first start, mode 0600, and one
// file may serve every node of a cluster (server.keyFile on a shared volume), nodes starting at once.

/** Fingerprints answered by `n` processes loading (and so making) `file` at the same moment. */
async function loadTogether(file: string, n: number): Promise<string[]> {
  const script = `
    const { SecretHasher } = await import(${JSON.stringify(join(ROOT, 'gateway/registry/secrets.ts'))})
    const at = Number(process.argv[1])
    while (Date.now() < at) {}
    process.stdout.write(SecretHasher.fromKeyFile(${JSON.stringify(file)}).fingerprint())
  `
  const start = Date.now() + 1500
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<string>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, String(start)], { cwd: ROOT })
          let out = ''
          let err = ''
          child.stdout.on('data', (d: Buffer) => (out += d.toString()))
          child.stderr.on('data', (d: Buffer) => (err += d.toString()))
          child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))))
        }),
    ),
  )
}

describe('the server key file', () => {
  it('is made once, 64 hex characters with mode 0600, and read back the same', () => {
    const dir = tempDir('iocgw-key-')
    try {
      const file = join(dir.path, 'keys', 'server.key')
      const made = SecretHasher.fromKeyFile(file)
      expect(readFileSync(file, 'utf8')).toMatch(/^[0-9a-f]{64}$/)
      expect(statSync(file).mode & 0o777).toBe(0o600)
      expect(SecretHasher.fromKeyFile(file).fingerprint()).toBe(made.fingerprint())
      expect(readdirSync(join(dir.path, 'keys'))).toEqual(['server.key'])
    } finally {
      dir.remove()
    }
  })

  it('shared by processes that all start on a missing file at once: one key for all, no error, nothing left beside it', async () => {
    const dir = tempDir('iocgw-key-')
    try {
      const file = join(dir.path, 'server.key')
      const prints = await loadTogether(file, 6)
      expect(
        prints.every((p) => /^[0-9a-f]{32}$/.test(p)),
        prints.join(' '),
      ).toBe(true)
      expect(new Set(prints).size).toBe(1)
      expect(SecretHasher.fromKeyFile(file).fingerprint()).toBe(prints[0])
      expect(readdirSync(dir.path)).toEqual(['server.key'])
    } finally {
      dir.remove()
    }
  }, 60_000)
})
