import type { Static } from 'typebox'
import type { ZaloConfig } from '../config.ts'
import type { Channel, SendResult } from '../types.ts'
import type { ZaloTokens } from '../zalo-token.ts'
import { callZalo, zaloSection } from './zalo.ts'

// Zalo Official Account message to a follower (v3.0 /oa/message/cs or /transaction): full
// Vietnamese text. Free replies only within 48 h of the follower's last message; otherwise a
// verified OA with quota (Zalo's rule, answered as an error and not retried).

export function zaloOaChannel(cfg: Static<typeof ZaloConfig>, tokens: ZaloTokens, timeoutMs: number): Channel {
  const oa = zaloSection(cfg, 'oa')
  return {
    name: 'zalo-oa',
    dedupByKey: false,
    async send(msg): Promise<SendResult> {
      if (!msg.zaloUserId) return { ok: false, retry: false, code: 'no_zalo_user', message: 'contact has no Zalo user id' }
      return callZalo(
        tokens,
        oa.url,
        { recipient: { user_id: msg.zaloUserId }, message: { text: msg.text.slice(0, 2000) } },
        timeoutMs,
        'Zalo OA',
      )
    },
  }
}
