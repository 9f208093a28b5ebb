import type { Static } from 'typebox'
import type { ZaloConfig } from './config.ts'
import { request } from './http.ts'
import type { ProviderTokenStore, StoredTokens } from './token-store.ts'

// Zalo OA access token with refresh (oauth.zaloapp.com/v4/oa/access_token). A refresh token is
// single use: the new pair is stored (token-store.ts: alerts.db, or PostgreSQL for every node of a
// cluster) BEFORE the access token is used, so a crash right after a refresh never leaves us
// holding only the spent token, and renewals are one at a time across nodes, each renewer first
// looking whether the pair was renewed meanwhile, so no node spends a refresh token another
// node already spent.

export interface ZaloTokens {
  /** The current access token, refreshing first when none is known or it has expired. */
  access(): Promise<string>
  /**
   * Refreshes after the API called `failed` invalid. Concurrent callers share one refresh, and a
   * caller whose token was already replaced gets the new one without spending another refresh token.
   */
  refresh(failed?: string): Promise<string>
}

export class ZaloTokenError extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
  ) {
    super(message)
    this.name = 'ZaloTokenError'
  }
}

export function zaloTokens(
  store: ProviderTokenStore,
  cfg: Static<typeof ZaloConfig>,
  timeoutMs: number,
  now: () => number = Date.now,
): ZaloTokens {
  const PROVIDER = `zalo:${cfg.appId}`
  // The configured pair, unless a pair is stored already (it may have spent the configured one).
  const seeded = cfg.accessToken
    ? store.seed(PROVIDER, { access_token: cfg.accessToken, refresh_token: cfg.refreshToken, expires_at: now() + 3_000_000 })
    : Promise.resolve()
  let inflight: Promise<string> | undefined

  async function exchange(refreshToken: string): Promise<StoredTokens> {
    let a
    try {
      a = await request(cfg.oauthUrl, {
        headers: { secret_key: cfg.secretKey, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ refresh_token: refreshToken, app_id: cfg.appId, grant_type: 'refresh_token' }).toString(),
        timeoutMs,
      })
    } catch (err) {
      throw new ZaloTokenError(`Zalo token refresh failed: ${(err as Error).message}`, true)
    }
    const r = a.body as
      | {
          access_token?: string
          refresh_token?: string
          expires_in?: string | number
          error?: number
          error_name?: string
          error_description?: string
        }
      | undefined
    if (a.status >= 500) throw new ZaloTokenError(`Zalo token refresh: HTTP ${a.status}`, true)
    if (!r?.access_token || !r.refresh_token) {
      throw new ZaloTokenError(
        `Zalo token refresh refused: ${r?.error_description ?? r?.error_name ?? `HTTP ${a.status}`}; re-authorise the OA and set notify.zalo.refreshToken`,
        false,
      )
    }
    const expiresIn = Number(r.expires_in ?? 3600)
    // Ten minutes early: never hand out a token that expires on the way.
    return { access_token: r.access_token, refresh_token: r.refresh_token, expires_at: now() + Math.max(60, expiresIn - 600) * 1000 }
  }

  /** A fresh access token: the stored one when it was renewed meanwhile (and is not `failed`), else a new pair. */
  async function renew(failed: string | undefined): Promise<string> {
    await seeded
    const t = await store.renewing(PROVIDER, async (current) =>
      current && current.expires_at > now() && current.access_token !== failed
        ? current
        : exchange(current?.refresh_token ?? cfg.refreshToken),
    )
    return t.access_token
  }

  const refresh = (failed?: string): Promise<string> => {
    // Concurrent callers in this process share one renewal.
    inflight ??= renew(failed).finally(() => {
      inflight = undefined
    })
    return inflight
  }

  return {
    async access() {
      await seeded
      const s = await store.get(PROVIDER)
      if (s && s.expires_at > now()) return s.access_token
      return refresh()
    },
    refresh,
  }
}
