import type { Static } from 'typebox'
import type { EsmsConfig } from '../config.ts'
import { httpFailure, phoneLocal, request, transportFailure } from '../http.ts'
import type { Channel, SendResult } from '../types.ts'

// eSMS.vn brandname SMS, SendMultipleMessage_V4_post_json. RequestId is de-duplicated per day by
// the provider (code 124), which makes a resend after a crash safe.

const PERMANENT: Record<string, string> = {
  '101': 'bad ApiKey or SecretKey',
  '104': 'brandname not registered',
  '108': 'phone number not in a valid format',
  '146': 'content does not match a registered customer-care template',
  '99': 'phone number blocked',
}

export function esmsChannel(cfg: Static<typeof EsmsConfig>, timeoutMs: number): Channel {
  return {
    name: 'esms',
    dedupByKey: true,
    async send(msg, key): Promise<SendResult> {
      if (!msg.phone) return { ok: false, retry: false, code: 'no_phone', message: 'contact has no phone number' }
      const body: Record<string, unknown> = {
        ApiKey: cfg.apiKey,
        SecretKey: cfg.secretKey,
        Phone: phoneLocal(msg.phone),
        Content: msg.text,
        Brandname: cfg.brandname,
        SmsType: cfg.smsType,
        IsUnicode: 0,
        RequestId: key,
      }
      if (cfg.sandbox) body.Sandbox = 1
      if (cfg.callbackUrl) body.CallbackUrl = cfg.callbackUrl
      let a
      try {
        a = await request(cfg.url, { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), timeoutMs })
      } catch (err) {
        return transportFailure(err)
      }
      if (a.status !== 200) return httpFailure(a, 'eSMS')
      const r = a.body as { CodeResult?: string | number; SMSID?: string; ErrorMessage?: string } | undefined
      const code = String(r?.CodeResult ?? '')
      if (code === '100') return { ok: true, providerId: String(r?.SMSID ?? '') }
      if (code === '124') return { ok: true, providerId: `dup:${key}`, duplicate: true }
      const perm = PERMANENT[code]
      // 103 (balance) and unknown codes: retry, an operator can top up or the provider recover.
      return {
        ok: false,
        retry: perm === undefined,
        code: `esms_${code || 'unknown'}`,
        message: perm ?? r?.ErrorMessage ?? `eSMS CodeResult ${code}`,
      }
    },
  }
}
