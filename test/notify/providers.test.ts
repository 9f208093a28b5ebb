import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openNotifyDb } from '../../gateway/notify/db.ts'
import type { SharedDb } from '../../gateway/sqlite/shared.ts'
import Value from 'typebox/value'
import { channelsFromConfig } from '../../gateway/notify/channels/index.ts'
import { sqliteTokenStore } from '../../gateway/notify/token-store.ts'
import { NotifySection, type NotifyConfig } from '../../gateway/notify/config.ts'
import type { OutgoingMessage } from '../../gateway/notify/types.ts'
import { tempDir } from '../support/services.ts'
import { startStandIns, standInConfig, type StandIns } from './standins.ts'

const sms: OutgoingMessage = {
  text: 'IOC Hue: CANH BAO MOI - BAO DONG I Kim Long (song Huong): 1,20 m (nguong 1,00 m). luc 07:10 20/11',
  phone: '0905123456',
}
const zns: OutgoingMessage = {
  text: 'x',
  phone: '0905123456',
  template: {
    name: 'alert',
    data: {
      action: 'Cảnh báo mới',
      place: 'Kim Long (sông Hương)',
      detail: 'd',
      severity: 'Thấp',
      time: '07:10 20/11/2026',
      alert_id: 'a1',
    },
  },
}
const oa: OutgoingMessage = { text: 'IOC Hue: Cảnh báo mới\nKim Long (sông Hương): mực nước 1,20 m', zaloUserId: 'zu-1001' }

describe('provider channels against documented stand-ins', () => {
  let prov: StandIns
  let dir: ReturnType<typeof tempDir>
  let db: SharedDb
  const channels = (over: Partial<NotifyConfig> = {}, smsProvider: 'esms' | 'speedsms' | 'twilio' = 'esms') => {
    const cfg = Value.Default(NotifySection, { ...standInConfig(prov, smsProvider), ...over }) as NotifyConfig
    return channelsFromConfig(cfg, sqliteTokenStore(db.db))
  }
  beforeEach(async () => {
    prov = await startStandIns()
    dir = tempDir()
    db = openNotifyDb(dir.path)
  })
  afterEach(async () => {
    db.release()
    await prov.close()
    dir.remove()
  })

  it('eSMS: documented JSON body with RequestId; a duplicate RequestId counts as already sent', async () => {
    const ch = channels().sms!
    const r1 = await ch.send(sms, 'k0123456789abcdef0123456789abcdef')
    expect(r1).toMatchObject({ ok: true })
    const req = prov.received[0]!
    expect(req.provider).toBe('esms')
    expect(req.headers['content-type']).toContain('application/json')
    expect(req.body).toEqual({
      ApiKey: 'esms-key',
      SecretKey: 'esms-secret',
      Phone: '0905123456',
      Content: sms.text,
      Brandname: 'IOCHUE',
      SmsType: '2',
      IsUnicode: 0,
      RequestId: 'k0123456789abcdef0123456789abcdef',
    })
    const r2 = await ch.send(sms, 'k0123456789abcdef0123456789abcdef')
    expect(r2).toMatchObject({ ok: true, duplicate: true })
    expect(prov.delivered('esms')).toHaveLength(1)
  })

  it('eSMS: bad credentials fail for good (no retry); 5xx and timeouts are retryable', async () => {
    const bad = channelsFromConfig(
      Value.Default(NotifySection, { ...standInConfig(prov), esms: { ...standInConfig(prov).esms, secretKey: 'wrong' } }) as NotifyConfig,
      sqliteTokenStore(db.db),
    ).sms!
    expect(await bad.send(sms, 'k1')).toMatchObject({ ok: false, retry: false, code: 'esms_101' })
    const ch = channels().sms!
    prov.failNext('esms', 1, 'http_500')
    expect(await ch.send(sms, 'k2')).toMatchObject({ ok: false, retry: true, code: 'http_500' })
    prov.failNext('esms', 1, 'timeout')
    expect(await ch.send(sms, 'k3')).toMatchObject({ ok: false, retry: true, code: 'timeout' })
    expect(await ch.send(sms, 'k3')).toMatchObject({ ok: true })
  })

  it('SpeedSMS: HTTP Basic <token>:x, 84 numbers, sms_type 3; a bad token is refused for good', async () => {
    const ch = channels({}, 'speedsms').sms!
    expect(await ch.send(sms, 'k')).toMatchObject({ ok: true })
    const req = prov.received[0]!
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from('speed-token:x').toString('base64')}`)
    expect(req.body).toEqual({ to: ['84905123456'], content: sms.text, sms_type: 3, sender: 'IOCHUE' })
    const bad = channelsFromConfig(
      Value.Default(NotifySection, {
        ...standInConfig(prov, 'speedsms'),
        speedsms: { ...standInConfig(prov).speedsms, token: 'nope' },
      }) as NotifyConfig,
      sqliteTokenStore(db.db),
    ).sms!
    expect(await bad.send(sms, 'k')).toMatchObject({ ok: false, retry: false })
  })

  it('Twilio: form-encoded To (E.164), From, Body with HTTP Basic; 401 final, 5xx retryable', async () => {
    const ch = channels({}, 'twilio').sms!
    expect(await ch.send(sms, 'k')).toMatchObject({ ok: true, providerId: expect.stringMatching(/^SM/) })
    const req = prov.received[0]!
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(req.body).toEqual({ To: '+84905123456', Body: sms.text, From: '+15005550006' })
    prov.failNext('twilio', 1, 'bad_credentials')
    expect(await ch.send(sms, 'k')).toMatchObject({ ok: false, retry: false, code: 'twilio_20003' })
    prov.failNext('twilio', 1, 'http_500')
    expect(await ch.send(sms, 'k')).toMatchObject({ ok: false, retry: true })
  })

  it('Zalo ZNS: expired token -> refresh (new pair stored atomically) -> one retry', async () => {
    const ch = channels().zalo_zns!
    // No access token known yet: the first call refreshes.
    expect(await ch.send(zns, 'abc123')).toMatchObject({ ok: true })
    expect(prov.zalo.refreshes).toBe(1)
    const refresh = prov.received.find((r) => r.provider === 'zalo_oauth')!
    expect(refresh.headers.secret_key).toBe('zalo-secret')
    expect(refresh.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(refresh.body).toEqual({ refresh_token: 'rt-1', app_id: '1234567890', grant_type: 'refresh_token' })
    const send = prov.delivered('zalo_zns')[0]!
    expect(send.headers.access_token).toBe('at-2')
    expect(send.body).toEqual({ phone: '84905123456', template_id: '300001', template_data: zns.template!.data, tracking_id: 'abc123' })

    prov.zalo.expire()
    const before = prov.received.length
    expect(await ch.send(zns, 'abc124')).toMatchObject({ ok: true })
    expect(prov.received.slice(before).map((r) => `${r.provider}:${r.answer}`)).toEqual([
      'zalo_zns:-124',
      'zalo_oauth:refreshed',
      'zalo_zns:delivered',
    ])
    const row = db.db.prepare('SELECT access_token, refresh_token FROM provider_tokens').get() as {
      access_token: string
      refresh_token: string
    }
    expect(row).toEqual({ access_token: 'at-3', refresh_token: 'rt-3' })

    // A token that stays invalid after the refresh: one retry only, then a failure.
    prov.failNext('zalo_zns', 2, 'bad_credentials')
    const n = prov.received.length
    expect(await ch.send(zns, 'abc125')).toMatchObject({ ok: false, code: 'zalo_-124' })
    expect(prov.received.slice(n).map((r) => r.provider)).toEqual(['zalo_zns', 'zalo_oauth', 'zalo_zns'])
  })

  it('Zalo: a new process uses the stored refresh token, not the spent one from config', async () => {
    const ch = channels().zalo_oa!
    expect(await ch.send(oa, 'k')).toMatchObject({ ok: true })
    prov.zalo.expire()
    // Same config (refreshToken rt-1, spent), new channel instance as after a restart.
    const again = channels().zalo_oa!
    expect(await again.send(oa, 'k')).toMatchObject({ ok: true })
    expect(prov.received.filter((r) => r.provider === 'zalo_oauth').map((r) => r.answer)).toEqual(['refreshed', 'refreshed'])
  })

  it('Zalo OA: message to a follower with the documented body; concurrent expiries share one refresh', async () => {
    const ch = channels().zalo_oa!
    await ch.send(oa, 'k')
    prov.zalo.expire()
    const results = await Promise.all([ch.send(oa, 'a'), ch.send(oa, 'b'), ch.send(oa, 'c')])
    expect(results.every((r) => r.ok)).toBe(true)
    expect(prov.zalo.refreshes).toBe(2)
    const d = prov.delivered('zalo_oa')[0]!
    expect(d.body).toEqual({ recipient: { user_id: 'zu-1001' }, message: { text: oa.text } })
  })

  it('Zalo: 5xx and timeouts are retryable', async () => {
    const ch = channels().zalo_zns!
    await ch.send(zns, 'warm')
    prov.failNext('zalo_zns', 1, 'http_500')
    expect(await ch.send(zns, 'x')).toMatchObject({ ok: false, retry: true, code: 'http_500' })
    prov.failNext('zalo_zns', 1, 'timeout')
    expect(await ch.send(zns, 'x')).toMatchObject({ ok: false, retry: true, code: 'timeout' })
  })
})

describe('notify configuration', () => {
  it('a bad value stops the notifier with the key named', async () => {
    const { createNotifier } = await import('../../gateway/notify/notifier.ts')
    const { quietLogger, metrics } = await import('../alerts/helpers.ts')
    const dir = tempDir()
    try {
      expect(() =>
        createNotifier({
          dataDir: dir.path,
          logger: quietLogger(),
          metrics: metrics(),
          config: { twilio: { url: 'http://x', accountSid: 'nope', authToken: 't' } },
        }),
      ).toThrow(/^config: notify\.twilio\.accountSid: /)
      expect(() =>
        createNotifier({ dataDir: dir.path, logger: quietLogger(), metrics: metrics(), config: { sms: 'esms' } as never }),
      ).toThrow('config: notify.sms: is not an accepted key')
    } finally {
      dir.remove()
    }
  })
})
