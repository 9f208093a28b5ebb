import type pg from 'pg'
import { lockForTransaction } from '../../pg/advisory-lock.ts'
import { migratePg } from '../../pg/migrate.ts'
import { inTransaction } from '../../pg/transaction.ts'
import type { ProviderTokenStore, StoredTokens } from '../token-store.ts'
import { NOTIFY_PG_MIGRATIONS, NOTIFY_PG_MIGRATIONS_TABLE } from './migrations.ts'

// Providers' OAuth tokens shared by the nodes of a cluster (docs/operations.md "Notifications
// across nodes"). A renewal holds a transaction-scoped advisory lock per provider while it asks
// the provider, so one node renews and the others, waiting, find the new pair and use it.

type Row = { access_token: string; refresh_token: string; expires_at: string }
const toStored = (r: Row | undefined): StoredTokens | undefined => r && { ...r, expires_at: Number(r.expires_at) }
const SELECT = 'SELECT access_token, refresh_token, expires_at FROM notify_provider_tokens WHERE provider = $1'
const INSERT =
  'INSERT INTO notify_provider_tokens (provider, access_token, refresh_token, expires_at, updated_at) VALUES ($1, $2, $3, $4, now())'

/**
 * `own`: this node's tokens from its alerts.db, stored for each provider PostgreSQL has none for: a
 * single node moved to cluster mode has spent the configured pair and holds the current one there.
 */
export async function openPostgresTokenStore(
  pool: pg.Pool,
  own: ReadonlyArray<StoredTokens & { provider: string }> = [],
): Promise<ProviderTokenStore> {
  await migratePg(pool, NOTIFY_PG_MIGRATIONS, NOTIFY_PG_MIGRATIONS_TABLE)
  const store: ProviderTokenStore = {
    get: async (provider) => toStored((await pool.query<Row>(SELECT, [provider])).rows[0]),
    async seed(provider, t) {
      await pool.query(`${INSERT} ON CONFLICT (provider) DO NOTHING`, [provider, t.access_token, t.refresh_token, t.expires_at])
    },
    renewing: (provider, renew) =>
      inTransaction(pool, async (c) => {
        await lockForTransaction(c, `iocgw:provider_tokens:${provider}`)
        const current = toStored((await c.query<Row>(SELECT, [provider])).rows[0])
        const next = await renew(current)
        if (next !== current)
          await c.query(
            `${INSERT} ON CONFLICT (provider) DO UPDATE SET access_token = excluded.access_token, refresh_token = excluded.refresh_token,
             expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
            [provider, next.access_token, next.refresh_token, next.expires_at],
          )
        return next
      }),
  }
  for (const t of own) await store.seed(t.provider, t)
  return store
}
