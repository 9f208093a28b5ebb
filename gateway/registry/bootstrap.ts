import type { DeviceRegistry } from './types.ts'

const SYSTEM = { type: 'system', id: 'bootstrap' } as const

/**
 * SPEC: IOC_ADMIN_TOKEN is the bootstrap admin token; when unset, one is made at first start,
 * printed once (to the console, never to the log) and stored hashed.
 */
export function ensureAdminToken(registry: DeviceRegistry, configured: string | undefined, notice: (line: string) => void): void {
  if (configured) {
    registry.ensureToken({ role: 'admin', name: 'bootstrap (IOC_ADMIN_TOKEN)', secret: configured }, SYSTEM)
    return
  }
  if (registry.hasAdminToken()) return
  const { secret } = registry.createToken({ role: 'admin', name: 'bootstrap' }, SYSTEM)
  notice(`Bootstrap admin token (shown once, stored only as a hash): ${secret}`)
}
