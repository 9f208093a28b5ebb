import type { Static } from 'typebox'
import type { TwilioConfig } from '../config.ts'
import { httpFailure, phoneE164, request, transportFailure } from '../http.ts'
import type { Channel, SendResult } from '../types.ts'

// Twilio Programmable Messaging: POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form
// encoded, HTTP Basic AccountSid:AuthToken. It takes no idempotency key for outbound messages.

export function twilioChannel(cfg: Static<typeof TwilioConfig>, timeoutMs: number): Channel {
  const auth = `Basic ${Buffer.from(`${cfg.accountSid}:${cfg.authToken}`).toString('base64')}`
  const url = `${cfg.url.replace(/\/$/, '')}/2010-04-01/Accounts/${cfg.accountSid}/Messages.json`
  return {
    name: 'twilio',
    dedupByKey: false,
    async send(msg): Promise<SendResult> {
      if (!msg.phone) return { ok: false, retry: false, code: 'no_phone', message: 'contact has no phone number' }
      const form = new URLSearchParams({ To: phoneE164(msg.phone), Body: msg.text })
      if (cfg.messagingServiceSid) form.set('MessagingServiceSid', cfg.messagingServiceSid)
      else if (cfg.from) form.set('From', cfg.from)
      let a
      try {
        a = await request(url, {
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth },
          body: form.toString(),
          timeoutMs,
        })
      } catch (err) {
        return transportFailure(err)
      }
      const r = a.body as { sid?: string; status?: string; code?: number; message?: string } | undefined
      if ((a.status === 200 || a.status === 201) && r?.sid) return { ok: true, providerId: r.sid }
      if (a.status >= 400 && a.status < 500 && a.status !== 429) {
        return { ok: false, retry: false, code: `twilio_${r?.code ?? a.status}`, message: r?.message ?? `Twilio answered HTTP ${a.status}` }
      }
      return httpFailure(a, 'Twilio')
    },
  }
}
