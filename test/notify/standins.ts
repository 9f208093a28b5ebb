import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

// Local stand-ins for the SMS and Zalo providers, following domain/notify-providers.md: the same
// paths, headers, bodies and answers, with switches for the failures the gateway must survive.

/** hang: processes the request (a message is delivered) but never answers. */
export type Mode = 'ok' | 'bad_credentials' | 'http_500' | 'timeout' | 'hang'

export interface Received {
  provider: 'esms' | 'speedsms' | 'twilio' | 'zalo_oauth' | 'zalo_zns' | 'zalo_oa'
  at: number
  headers: IncomingMessage['headers']
  body: Record<string, unknown>
  /** What the stand-in answered (status and code), for assertions. */
  answer: string
}

export interface StandIns {
  url: string
  received: Received[]
  /** Messages actually delivered (accepted, not duplicates), per provider. */
  delivered(provider?: Received['provider']): Received[]
  mode: Partial<Record<Received['provider'], Mode>>
  /** Fail the next n requests of a provider with the given mode, then behave. */
  failNext(provider: Received['provider'], n: number, mode: Mode): void
  zalo: { accessToken: string; refreshToken: string; refreshes: number; expire(): void }
  esms: { apiKey: string; secretKey: string }
  twilio: { sid: string; token: string }
  speedsms: { token: string }
  onRequest?: ((r: Received) => void) | undefined
  close(): Promise<void>
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export async function startStandIns(): Promise<StandIns> {
  const seenRequestIds = new Set<string>()
  const failures = new Map<string, { n: number; mode: Mode }>()
  let tokenN = 1
  const s: StandIns = {
    url: '',
    received: [],
    delivered: (p) => s.received.filter((r) => (p ? r.provider === p : r.provider !== 'zalo_oauth') && r.answer === 'delivered'),
    mode: {},
    failNext(provider, n, mode) {
      failures.set(provider, { n, mode })
    },
    zalo: {
      accessToken: 'at-1',
      refreshToken: 'rt-1',
      refreshes: 0,
      expire() {
        s.zalo.accessToken = `expired-${tokenN}`
      },
    },
    esms: { apiKey: 'esms-key', secretKey: 'esms-secret' },
    twilio: { sid: `AC${'1'.repeat(32)}`, token: 'twilio-token' },
    speedsms: { token: 'speed-token' },
    close: async () => {},
  }
  const modeOf = (p: Received['provider']): Mode => {
    const f = failures.get(p)
    if (f && f.n > 0) {
      f.n--
      return f.mode
    }
    return s.mode[p] ?? 'ok'
  }
  let hanging = false
  const json = (res: ServerResponse, status: number, body: unknown) => {
    if (hanging) return
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }

  const server: Server = createServer(async (req, res) => {
    const raw = await readBody(req)
    const ct = req.headers['content-type'] ?? ''
    let body: Record<string, unknown>
    try {
      body = ct.includes('application/json') ? JSON.parse(raw) : Object.fromEntries(new URLSearchParams(raw))
    } catch {
      return json(res, 400, { error: 'bad body' })
    }
    const path = (req.url ?? '').split('?')[0] ?? ''
    const provider: Received['provider'] | undefined =
      path === '/esms/MainService.svc/json/SendMultipleMessage_V4_post_json/'
        ? 'esms'
        : path === '/speedsms/index.php/sms/send'
          ? 'speedsms'
          : /^\/twilio\/2010-04-01\/Accounts\/[^/]+\/Messages\.json$/.test(path)
            ? 'twilio'
            : path === '/zalo-oauth/v4/oa/access_token'
              ? 'zalo_oauth'
              : path === '/zalo-zns/message/template'
                ? 'zalo_zns'
                : path === '/zalo-oa/v3.0/oa/message/cs'
                  ? 'zalo_oa'
                  : undefined
    if (!provider || req.method !== 'POST') return json(res, 404, { error: 'not found' })
    const rec: Received = { provider, at: Date.now(), headers: req.headers, body, answer: '' }
    s.received.push(rec)
    s.onRequest?.(rec)
    const mode = modeOf(provider)
    hanging = mode === 'hang'
    if (mode === 'timeout') {
      rec.answer = 'timeout'
      return // never answers; the client must give up
    }
    if (mode === 'http_500') {
      rec.answer = 'http_500'
      res.writeHead(500, { 'content-type': 'text/html' })
      return res.end('<html>Internal Server Error</html>')
    }
    switch (provider) {
      case 'esms': {
        if (mode === 'bad_credentials' || body.ApiKey !== s.esms.apiKey || body.SecretKey !== s.esms.secretKey) {
          rec.answer = '101'
          return json(res, 200, { CodeResult: '101', ErrorMessage: 'Authorize Failed' })
        }
        const requestId = String(body.RequestId ?? '')
        if (requestId && seenRequestIds.has(requestId)) {
          rec.answer = '124'
          return json(res, 200, { CodeResult: '124', ErrorMessage: 'Duplicate RequestId' })
        }
        if (requestId) seenRequestIds.add(requestId)
        rec.answer = 'delivered'
        return json(res, 200, { CodeResult: '100', CountRegenerate: 0, SMSID: `sms-${s.received.length}` })
      }
      case 'speedsms': {
        const expect = `Basic ${Buffer.from(`${s.speedsms.token}:x`).toString('base64')}`
        if (mode === 'bad_credentials' || req.headers.authorization !== expect) {
          rec.answer = '401'
          return json(res, 401, { status: 'error', code: '007', message: 'Invalid access token' })
        }
        rec.answer = 'delivered'
        return json(res, 200, {
          status: 'success',
          code: '00',
          data: { tranId: s.received.length, totalSMS: 1, totalPrice: 250, invalidPhone: [] },
        })
      }
      case 'twilio': {
        const expect = `Basic ${Buffer.from(`${s.twilio.sid}:${s.twilio.token}`).toString('base64')}`
        if (mode === 'bad_credentials' || req.headers.authorization !== expect) {
          rec.answer = '401'
          return json(res, 401, {
            code: 20003,
            message: 'Authenticate',
            more_info: 'https://www.twilio.com/docs/errors/20003',
            status: 401,
          })
        }
        rec.answer = 'delivered'
        return json(res, 201, {
          sid: `SM${String(s.received.length).padStart(32, '0')}`,
          status: 'queued',
          num_segments: '1',
          body: body.Body,
          to: body.To,
        })
      }
      case 'zalo_oauth': {
        if (req.headers.secret_key !== 'zalo-secret' || body.grant_type !== 'refresh_token' || body.refresh_token !== s.zalo.refreshToken) {
          rec.answer = 'refused'
          return json(res, 200, {
            error: -14014,
            error_name: 'Invalid refresh token',
            error_description: 'Refresh token is invalid or expired',
          })
        }
        tokenN++
        s.zalo.refreshes++
        s.zalo.accessToken = `at-${tokenN}`
        s.zalo.refreshToken = `rt-${tokenN}` // the old one is spent
        rec.answer = 'refreshed'
        return json(res, 200, { access_token: s.zalo.accessToken, refresh_token: s.zalo.refreshToken, expires_in: '90000' })
      }
      case 'zalo_zns':
      case 'zalo_oa': {
        if (mode === 'bad_credentials' || req.headers.access_token !== s.zalo.accessToken) {
          const code = provider === 'zalo_zns' ? -124 : -216
          rec.answer = String(code)
          return json(res, 200, { error: code, message: 'Access token is invalid' })
        }
        rec.answer = 'delivered'
        return json(res, 200, {
          error: 0,
          message: 'Success',
          data: { msg_id: `m${s.received.length}`, sent_time: String(Date.now()), quota: { dailyQuota: '500', remainingQuota: '499' } },
        })
      }
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  s.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return s
}

/** A notify config pointing every provider at the stand-ins. */
export function standInConfig(s: StandIns, sms: 'esms' | 'speedsms' | 'twilio' = 'esms') {
  return {
    smsProvider: sms,
    esms: {
      url: `${s.url}/esms/MainService.svc/json/SendMultipleMessage_V4_post_json/`,
      apiKey: s.esms.apiKey,
      secretKey: s.esms.secretKey,
      brandname: 'IOCHUE',
      smsType: '2',
      sandbox: false,
    },
    speedsms: { url: `${s.url}/speedsms/index.php/sms/send`, token: s.speedsms.token, sender: 'IOCHUE', smsType: 3 },
    twilio: { url: `${s.url}/twilio`, accountSid: s.twilio.sid, authToken: s.twilio.token, from: '+15005550006' },
    zalo: {
      appId: '1234567890',
      secretKey: 'zalo-secret',
      oauthUrl: `${s.url}/zalo-oauth/v4/oa/access_token`,
      refreshToken: s.zalo.refreshToken,
      zns: { url: `${s.url}/zalo-zns/message/template`, templates: { alert: '300001', test: '300002' }, development: false },
      oa: { url: `${s.url}/zalo-oa/v3.0/oa/message/cs` },
    },
    // Long enough for a loaded test machine; the timeout tests wait it out once.
    timeoutMs: 3000,
    retry: { baseMs: 20, maxMs: 200, maxAttempts: 5 },
  }
}
