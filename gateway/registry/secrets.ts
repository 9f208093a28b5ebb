import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

// Device secrets and API tokens are machine-generated with ≥128 bits of entropy, so a keyed hash
// (HMAC-SHA-256 with a server key) is enough to make a stolen database useless; slow password
// hashing would only cap the MQTT connect rate.

/** 192 random bits, URL-safe. */
export function newSecret(): string {
  return randomBytes(24).toString('base64url')
}

/** API tokens carry a prefix so that leaked ones are easy to recognise in scanners and logs. */
export function newToken(): string {
  return `iocgw_${randomBytes(32).toString('base64url')}`
}

export class SecretHasher {
  private constructor(private readonly key: Buffer) {}

  /**
   * Loads the server key from `file`, creating it (mode 0600) on first start. Nodes of a cluster
   * may share one file (server.keyFile on a shared volume) and start at once: the key is written
   * whole under another name and linked into place, which fails if another process linked first,
   * so every process reads one complete key, never a half-written or second one.
   */
  static fromKeyFile(file: string): SecretHasher {
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true })
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
      writeFileSync(tmp, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' })
      try {
        linkSync(tmp, file)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      } finally {
        rmSync(tmp, { force: true })
      }
    }
    chmodSync(file, 0o600)
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex')
    if (key.length < 32) throw new Error(`server key ${file} is damaged (expected 64 hex characters)`)
    return new SecretHasher(key)
  }

  hash(secret: string): Buffer {
    return createHmac('sha256', this.key).update(secret, 'utf8').digest()
  }

  /**
   * Names the key without revealing it (an HMAC of a fixed label): nodes sharing one registry
   * compare it to find out that they hash with the same key.
   */
  fingerprint(): string {
    return this.hash('iocgw server key fingerprint').subarray(0, 16).toString('hex')
  }

  /** Constant-time comparison of a presented secret against a stored hash. */
  matches(secret: string, stored: Buffer): boolean {
    const h = this.hash(secret)
    return h.length === stored.length && timingSafeEqual(h, stored)
  }
}
