import type { Static } from 'typebox'
import type { ZaloConfig } from '../config.ts'
import type { SendResult } from '../types.ts'
import { httpFailure, request, transportFailure } from '../http.ts'
import { ZaloTokenError, type ZaloTokens } from '../zalo-token.ts'

// Shared by ZNS and OA: call with the access token; when Zalo calls the token invalid or
// expired, refresh and retry once (domain/notify-providers.md).

/** Zalo's codes for an invalid or expired access token (ZNS -124; OA API -216). */
export const TOKEN_INVALID = new Set([-124, -216])

/** ZNS codes worth retrying: -100 unknown error (Zalo: "try again later"). Others need a fix. */
const RETRYABLE = new Set([-100])

/** The part of notify.zalo a channel sends with; a channel in use without it is a configuration error. */
export function zaloSection<K extends 'oa' | 'zns'>(cfg: Static<typeof ZaloConfig>, part: K): NonNullable<Static<typeof ZaloConfig>[K]> {
  const section = cfg[part]
  if (!section) throw new Error(`notify.zalo.${part} is required for the zalo_${part} channel`)
  return section
}

export async function callZalo(tokens: ZaloTokens, url: string, body: unknown, timeoutMs: number, provider: string): Promise<SendResult> {
  let retried = false
  let token: string
  try {
    token = await tokens.access()
  } catch (err) {
    const e = err as ZaloTokenError
    return { ok: false, retry: e.retry ?? true, code: 'zalo_token', message: e.message }
  }
  for (;;) {
    let a
    try {
      a = await request(url, {
        headers: { access_token: token, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        timeoutMs,
      })
    } catch (err) {
      return transportFailure(err)
    }
    if (a.status !== 200) return httpFailure(a, provider)
    const r = a.body as { error?: number; message?: string; data?: { msg_id?: string; message_id?: string } } | undefined
    const code = Number(r?.error ?? -1)
    if (code === 0) return { ok: true, providerId: String(r?.data?.msg_id ?? r?.data?.message_id ?? '') }
    if (TOKEN_INVALID.has(code) && !retried) {
      retried = true
      try {
        token = await tokens.refresh(token)
      } catch (err) {
        const e = err as ZaloTokenError
        return { ok: false, retry: e.retry ?? true, code: 'zalo_token', message: e.message }
      }
      continue
    }
    return {
      ok: false,
      retry: RETRYABLE.has(code) || TOKEN_INVALID.has(code),
      code: `zalo_${code}`,
      message: `${provider}: ${r?.message ?? 'refused'}`,
    }
  }
}
