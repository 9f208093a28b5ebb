import type { Database } from 'better-sqlite3'
import type { Static } from 'typebox'
import type { ZaloConfig } from './config.ts'
import { request } from './http.ts'

// Zalo OA access token with refresh (oauth.zaloapp.com/v4/oa/access_token). A refresh token is
// single use: the new pair is stored in alerts.db in one statement BEFORE the access token is
// used, so a crash right after a refresh never leaves us holding only the spent token.

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

export function zaloTokens(db: Database, cfg: Static<typeof ZaloConfig>, timeoutMs: number, now: () => number = Date.now): ZaloTokens {
  const PROVIDER = `zalo:${cfg.appId}`
  const read = db.prepare('SELECT access_token, refresh_token, expires_at FROM provider_tokens WHERE provider = ?')
  const write =
    db.prepare(`INSERT INTO provider_tokens (provider, access_token, refresh_token, expires_at, updated_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (provider) DO UPDATE SET access_token = excluded.access_token, refresh_token = excluded.refresh_token,
    expires_at = excluded.expires_at, updated_at = excluded.updated_at`)
  let inflight: Promise<string> | undefined

  const stored = () => read.get(PROVIDER) as { access_token: string; refresh_token: string; expires_at: number } | undefined

  async function doRefresh(): Promise<string> {
    const refreshToken = stored()?.refresh_token ?? cfg.refreshToken
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
    write.run(PROVIDER, r.access_token, r.refresh_token, now() + Math.max(60, expiresIn - 600) * 1000, new Date(now()).toISOString())
    return r.access_token
  }

  const refresh = (failed?: string): Promise<string> => {
    if (inflight) return inflight
    const s = stored()
    if (failed !== undefined && s && s.access_token !== failed && s.expires_at > now()) return Promise.resolve(s.access_token)
    inflight = doRefresh().finally(() => {
      inflight = undefined
    })
    return inflight
  }

  if (cfg.accessToken && !stored()) write.run(PROVIDER, cfg.accessToken, cfg.refreshToken, now() + 3_000_000, new Date(now()).toISOString())

  return {
    async access() {
      const s = stored()
      if (s && s.expires_at > now()) return s.access_token
      return refresh()
    },
    refresh,
  }
}
