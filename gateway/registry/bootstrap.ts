import type { DeviceRegistry } from './types.ts'

const SYSTEM = { type: 'system', id: 'bootstrap' } as const

/**
 * IOC_ADMIN_TOKEN is the bootstrap admin token (docs/operations.md, "Bootstrap admin token"):
 * stored hashed, never printed. Idempotent, so it runs early in start-up.
 */
export async function applyConfiguredAdminToken(registry: DeviceRegistry, configured: string): Promise<void> {
  await registry.ensureToken({ role: 'admin', name: 'bootstrap (IOC_ADMIN_TOKEN)', secret: configured }, SYSTEM)
}

/**
 * With no admin token at all, makes one and hands it to `notice` (the console, never the log).
 * Called only once start-up has succeeded: a start that fails afterwards (a port in use, a bad
 * file) would otherwise print a token and store it, and the next start would print none.
 */
export async function issueBootstrapToken(registry: DeviceRegistry, notice: (line: string) => void): Promise<void> {
  if (await registry.hasAdminToken()) return
  const { secret } = await registry.createToken({ role: 'admin', name: 'bootstrap' }, SYSTEM)
  notice(`Bootstrap admin token (shown once, stored only as a hash): ${secret}`)
}
