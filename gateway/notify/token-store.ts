import type { Database } from 'better-sqlite3'
import { readNotifyDb } from './db.ts'

// Where a provider's OAuth tokens are kept (zalo-token.ts): alerts.db on one node, PostgreSQL in a
// cluster (postgres/tokens.ts), where every node must use the one current pair: a Zalo refresh
// token is single use, so a node renewing with a pair another node already spent is refused.

export interface StoredTokens {
  access_token: string
  refresh_token: string
  /** Epoch ms. */
  expires_at: number
}

export interface ProviderTokenStore {
  get(provider: string): Promise<StoredTokens | undefined>
  /** Stores `t` when the provider has no tokens yet (the configured first pair). */
  seed(provider: string, t: StoredTokens): Promise<void>
  /**
   * Runs `renew` on the stored pair alone among every renewer of the provider's tokens (every node
   * of a cluster), and stores what it answers before answering it; `renew` answering the pair it
   * was given (renewed meanwhile by someone else) stores nothing.
   */
  renewing(provider: string, renew: (current: StoredTokens | undefined) => Promise<StoredTokens>): Promise<StoredTokens>
}

/** This node's own tokens in alerts.db, by provider: what a first start of a cluster copies into PostgreSQL. */
export function alertsDbTokens(dataDir: string): Array<StoredTokens & { provider: string }> {
  return readNotifyDb(
    dataDir,
    (db) =>
      db.prepare('SELECT provider, access_token, refresh_token, expires_at FROM provider_tokens').all() as Array<
        StoredTokens & { provider: string }
      >,
  )
}

export function sqliteTokenStore(db: Database): ProviderTokenStore {
  const read = db.prepare('SELECT access_token, refresh_token, expires_at FROM provider_tokens WHERE provider = ?')
  const upsert =
    db.prepare(`INSERT INTO provider_tokens (provider, access_token, refresh_token, expires_at, updated_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (provider) DO UPDATE SET access_token = excluded.access_token, refresh_token = excluded.refresh_token,
    expires_at = excluded.expires_at, updated_at = excluded.updated_at`)
  const insert = db.prepare(
    'INSERT INTO provider_tokens (provider, access_token, refresh_token, expires_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (provider) DO NOTHING',
  )
  const get = (provider: string) => read.get(provider) as StoredTokens | undefined
  return {
    get: async (provider) => get(provider),
    async seed(provider, t) {
      insert.run(provider, t.access_token, t.refresh_token, t.expires_at, new Date().toISOString())
    },
    // One process: zalo-token.ts runs one renewal at a time.
    async renewing(provider, renew) {
      const current = get(provider)
      const next = await renew(current)
      if (next !== current) upsert.run(provider, next.access_token, next.refresh_token, next.expires_at, new Date().toISOString())
      return next
    },
  }
}
