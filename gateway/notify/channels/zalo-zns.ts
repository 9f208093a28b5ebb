import type { Static } from 'typebox'
import type { ZaloConfig } from '../config.ts'
import { phone84 } from '../http.ts'
import type { Channel, SendResult } from '../types.ts'
import type { ZaloTokens } from '../zalo-token.ts'
import { callZalo, zaloSection } from './zalo.ts'

// Zalo Notification Service: a registered template to a phone number, POST /message/template.
// tracking_id carries our idempotency key (<= 48 chars, alphanumeric).

export function zaloZnsChannel(cfg: Static<typeof ZaloConfig>, tokens: ZaloTokens, timeoutMs: number): Channel {
  const zns = zaloSection(cfg, 'zns')
  return {
    name: 'zalo-zns',
    dedupByKey: false,
    async send(msg, key): Promise<SendResult> {
      if (!msg.phone) return { ok: false, retry: false, code: 'no_phone', message: 'contact has no phone number' }
      if (!msg.template) return { ok: false, retry: false, code: 'no_template', message: 'ZNS needs a template message' }
      const body: Record<string, unknown> = {
        phone: phone84(msg.phone),
        template_id: zns.templates[msg.template.name],
        template_data: msg.template.data,
        tracking_id: key.slice(0, 48),
      }
      if (zns.development) body.mode = 'development'
      return callZalo(tokens, zns.url, body, timeoutMs, 'Zalo ZNS')
    },
  }
}
