import type { Client } from 'aedes'
import type { ApiToken, Device } from '../registry/types.ts'

/** Who a connection authenticated as. */
export type Principal = { kind: 'device'; device: Device } | { kind: 'integration'; token: ApiToken }

export interface Session {
  principal: Principal
  /** The CONNECT carried a will (checked against the ACL at connect time). */
  hasWill: boolean
  /** The device's revocation generation when this session authenticated. */
  generation: number
  /** When the principal's device record was last read from the registry (epoch ms). */
  checkedAt: number
  /** The read of the device record under way, if any (publish-steps.ts deviceStillActive). */
  refreshing?: Promise<Device | undefined> | undefined
}

/** A key that is the same for every connection of one principal (client id takeover check). */
export function principalKey(p: Principal): string {
  return p.kind === 'device' ? `device:${p.device.id}` : `token:${p.token.id}`
}

/**
 * Live sessions. Bounded by what is connected (the per-device maps shrink when the last session of
 * a device closes), except `generations`, which holds one number per device ever revoked while
 * this process runs.
 */
export class Sessions {
  private readonly byClient = new WeakMap<Client, Session>()
  private readonly byDevice = new Map<string, Set<Client>>()
  private readonly byToken = new Map<string, Set<Client>>()
  private readonly generations = new Map<string, number>()

  get(client: Client | null): Session | undefined {
    return client ? this.byClient.get(client) : undefined
  }

  /** Called from authenticate, before CONNACK. */
  attach(client: Client, principal: Principal, hasWill: boolean): Session {
    const generation = principal.kind === 'device' ? this.generation(principal.device.id) : 0
    const s: Session = { principal, hasWill, generation, checkedAt: Date.now() }
    this.byClient.set(client, s)
    return s
  }

  /** Called when aedes registers the client (past CONNACK). False: revoked meanwhile. */
  register(client: Client): boolean {
    const s = this.byClient.get(client)
    if (!s) return true
    const [map, key] = this.index(s)
    if (s.principal.kind === 'device' && s.generation !== this.generation(key)) return false
    let set = map.get(key)
    if (!set) map.set(key, (set = new Set()))
    set.add(client)
    return true
  }

  /** Called when aedes unregisters the client. Returns how many sessions its principal has left. */
  unregister(client: Client): number {
    const s = this.byClient.get(client)
    if (!s) return 0
    const [map, key] = this.index(s)
    const set = map.get(key)
    if (!set) return 0
    set.delete(client)
    if (set.size === 0) map.delete(key)
    return set.size
  }

  /** Live sessions of an integration token. */
  tokenClients(tokenId: string): Client[] {
    return [...(this.byToken.get(tokenId) ?? [])]
  }

  private index(s: Session): [Map<string, Set<Client>>, string] {
    return s.principal.kind === 'device' ? [this.byDevice, s.principal.device.id] : [this.byToken, s.principal.token.id]
  }

  deviceClients(deviceId: string): Client[] {
    return [...(this.byDevice.get(deviceId) ?? [])]
  }

  /** Marks every session of the device authenticated so far as revoked; returns the live ones. */
  revoke(deviceId: string): Client[] {
    this.generations.set(deviceId, this.generation(deviceId) + 1)
    return this.deviceClients(deviceId)
  }

  private generation(deviceId: string): number {
    return this.generations.get(deviceId) ?? 0
  }
}
