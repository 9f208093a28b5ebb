import type { NotifyConfig } from '../config.ts'
import type { ProviderTokenStore } from '../token-store.ts'
import type { Channel, ContactChannel } from '../types.ts'
import { zaloTokens } from '../zalo-token.ts'
import { esmsChannel } from './esms.ts'
import { speedSmsChannel } from './speedsms.ts'
import { twilioChannel } from './twilio.ts'
import { zaloOaChannel } from './zalo-oa.ts'
import { zaloZnsChannel } from './zalo-zns.ts'

/** The plugins the configuration enables, by contact channel. */
/** `tokens`: where providers' OAuth tokens are kept (alerts.db, or PostgreSQL in a cluster). */
export function channelsFromConfig(cfg: NotifyConfig, tokens: ProviderTokenStore): Partial<Record<ContactChannel, Channel>> {
  const out: Partial<Record<ContactChannel, Channel>> = {}
  const provider = cfg.smsProvider ?? (cfg.esms ? 'esms' : cfg.speedsms ? 'speedsms' : cfg.twilio ? 'twilio' : undefined)
  if (provider === 'esms') {
    if (!cfg.esms) throw new Error('notify.esms: required when notify.smsProvider is esms')
    out.sms = esmsChannel(cfg.esms, cfg.timeoutMs)
  } else if (provider === 'speedsms') {
    if (!cfg.speedsms) throw new Error('notify.speedsms: required when notify.smsProvider is speedsms')
    out.sms = speedSmsChannel(cfg.speedsms, cfg.timeoutMs)
  } else if (provider === 'twilio') {
    if (!cfg.twilio) throw new Error('notify.twilio: required when notify.smsProvider is twilio')
    if (!cfg.twilio.from && !cfg.twilio.messagingServiceSid) throw new Error('notify.twilio: set from or messagingServiceSid')
    out.sms = twilioChannel(cfg.twilio, cfg.timeoutMs)
  }
  if (cfg.zalo) {
    const zalo = zaloTokens(tokens, cfg.zalo, cfg.timeoutMs)
    if (cfg.zalo.zns) out.zalo_zns = zaloZnsChannel(cfg.zalo, zalo, cfg.timeoutMs)
    if (cfg.zalo.oa) out.zalo_oa = zaloOaChannel(cfg.zalo, zalo, cfg.timeoutMs)
  }
  return out
}
