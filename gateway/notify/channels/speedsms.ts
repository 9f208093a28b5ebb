import type { Static } from 'typebox'
import type { SpeedSmsConfig } from '../config.ts'
import { httpFailure, phone84, request, transportFailure } from '../http.ts'
import type { Channel, SendResult } from '../types.ts'

// SpeedSMS: /index.php/sms/send, HTTP Basic "<token>:x". It takes no idempotency key.

export function speedSmsChannel(cfg: Static<typeof SpeedSmsConfig>, timeoutMs: number): Channel {
  const auth = `Basic ${Buffer.from(`${cfg.token}:x`).toString('base64')}`
  return {
    name: 'speedsms',
    dedupByKey: false,
    async send(msg): Promise<SendResult> {
      if (!msg.phone) return { ok: false, retry: false, code: 'no_phone', message: 'contact has no phone number' }
      let a
      try {
        a = await request(cfg.url, {
          headers: { 'content-type': 'application/json', authorization: auth },
          body: JSON.stringify({ to: [phone84(msg.phone)], content: msg.text, sms_type: cfg.smsType, sender: cfg.sender }),
          timeoutMs,
        })
      } catch (err) {
        return transportFailure(err)
      }
      if (a.status === 401 || a.status === 403)
        return { ok: false, retry: false, code: `http_${a.status}`, message: 'SpeedSMS refused the access token' }
      if (a.status !== 200) return httpFailure(a, 'SpeedSMS')
      const r = a.body as
        { status?: string; code?: string; message?: string; data?: { tranId?: string | number; invalidPhone?: string[] } } | undefined
      if (r?.status === 'success' && r.code === '00') {
        if (r.data?.invalidPhone && r.data.invalidPhone.length > 0)
          return { ok: false, retry: false, code: 'invalid_phone', message: 'SpeedSMS: invalid phone number' }
        return { ok: true, providerId: String(r.data?.tranId ?? '') }
      }
      return { ok: false, retry: false, code: `speedsms_${r?.code ?? 'unknown'}`, message: r?.message ?? 'SpeedSMS refused the message' }
    },
  }
}
