import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

// People choose passwords with little entropy, so unlike device secrets and API tokens (secrets.ts)
// they get a slow, memory-hard hash: scrypt (RFC 7914) from node:crypto. The parameters are stored
// with each hash so that they can be raised later without invalidating existing passwords.
// N = 2^15, r = 8, p = 1 uses 32 MiB and about 0.1 s per check on one core: a login costs that,
// no API request does (sessions are looked up by a keyed hash of their id).

const PARAMS = { N: 2 ** 15, r: 8, p: 1 } as const
const KEY_LEN = 32
const SALT_LEN = 16
/** Node refuses scrypt above `maxmem` (32 MiB by default); 128·N·r is the working set. */
const maxmem = (N: number, r: number) => 128 * N * r + 1024 * 1024

export const PASSWORD_MIN_LENGTH = 10
export const PASSWORD_MAX_LENGTH = 1024

function derive(password: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  const opts: ScryptOptions = { N, r, p, maxmem: maxmem(N, r) }
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LEN, opts, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

/** `scrypt$N$r$p$salt$hash`, salt and hash in base64url. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LEN)
  const key = await derive(password, salt, PARAMS.N, PARAMS.r, PARAMS.p)
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join('$')
}

/** Constant-time check of a password against a stored hash; false for a damaged hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number]
  if (![N, r, p].every((v) => Number.isInteger(v) && v > 0) || N > 2 ** 20 || r > 32 || p > 16) return false
  const salt = Buffer.from(parts[4]!, 'base64url')
  const want = Buffer.from(parts[5]!, 'base64url')
  const got = await derive(password, salt, N, r, p)
  return got.length === want.length && timingSafeEqual(got, want)
}

let dummy: Promise<string> | undefined
/**
 * A hash of a random password with today's parameters: checking an unknown user's password against
 * it costs what a real check costs, so the answer's timing does not tell which names exist.
 */
export function dummyPasswordHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(16).toString('hex'))
  return dummy
}

/** Why a new password is refused, or undefined when it is acceptable. */
export function passwordProblem(password: string): string | undefined {
  if ([...password].length < PASSWORD_MIN_LENGTH) return `the password must have at least ${PASSWORD_MIN_LENGTH} characters`
  if (password.length > PASSWORD_MAX_LENGTH) return `the password must have at most ${PASSWORD_MAX_LENGTH} characters`
  return undefined
}
