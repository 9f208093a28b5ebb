// The per-identity cap on persistent sessions (client-id.ts PersistentSessions) when the sessions
// live in Redis and any node may take the next CONNECT: the client ids of each identity are a
// Redis set, checked and added in one Lua script so that two nodes admitting a new id for the same
// identity at once cannot both pass the cap.
import type { Redis } from 'ioredis'
import { ownerOf } from './client-id.ts'
import type { Principal } from './sessions.ts'

const ADMIT_SCRIPT = `
if ARGV[3] == '1' then
  redis.call('SREM', KEYS[1], ARGV[1])
  return 1
end
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
return 1
`

/** Redis key of an identity's persistent client ids. */
export function persistentSessionsKey(p: Principal): string {
  return `iocgw:mqtt:persistent-sessions:${p.kind}:${ownerOf(p)}`
}

export class SharedPersistentSessions {
  constructor(
    private readonly conn: Redis,
    private readonly max: number,
  ) {}

  /**
   * For a CONNECT whose client id the principal owns (client-id.ts ownsClientId): clean 1 ends
   * the id's persistent session; clean 0 keeps or starts one unless the identity already holds
   * `max` others. Rejects when Redis cannot answer.
   */
  async admit(principal: Principal, clientId: string, clean: boolean): Promise<'persistent_session_limit' | null> {
    // An empty id is replaced by a unique one: never a persistent session (MQTT-3.1.3-6).
    if (clientId === '') return null
    const ok = await this.conn.eval(ADMIT_SCRIPT, 1, persistentSessionsKey(principal), clientId, this.max, clean ? '1' : '0')
    return ok === 1 ? null : 'persistent_session_limit'
  }
}
