import type { SendResult } from './types.ts'

// Provider calls with Node's fetch (undici) and a hard timeout; errors become SendResults that say
// whether a retry can help.

export interface HttpAnswer {
  status: number
  body: unknown
  text: string
}

export async function request(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs: number },
): Promise<HttpAnswer> {
  const res = await fetch(url, {
    method: init.method ?? 'POST',
    headers: init.headers,
    body: init.body,
    signal: AbortSignal.timeout(init.timeoutMs),
  })
  const text = await res.text()
  let body: unknown
  try {
    body = text ? JSON.parse(text) : undefined
  } catch {
    body = undefined
  }
  return { status: res.status, body, text }
}

/** A network error or timeout: the request may or may not have reached the provider. */
export function transportFailure(err: unknown): SendResult {
  const e = err as { name?: string; message?: string; cause?: { code?: string } }
  const timeout = e.name === 'TimeoutError' || e.name === 'AbortError'
  return {
    ok: false,
    retry: true,
    code: timeout ? 'timeout' : (e.cause?.code ?? 'network'),
    message: timeout ? 'provider did not answer in time' : (e.message ?? String(err)),
  }
}

export function httpFailure(a: HttpAnswer, provider: string): SendResult {
  const retry = a.status >= 500 || a.status === 429 || a.status === 408
  return { ok: false, retry, code: `http_${a.status}`, message: `${provider} answered HTTP ${a.status}: ${a.text.slice(0, 200)}` }
}

/** 0xxxxxxxxx, +84xxxxxxxxx or 84xxxxxxxxx to 84xxxxxxxxx (no plus sign), as Zalo and SpeedSMS take it. */
export function phone84(phone: string): string {
  const digits = phone.replace(/[^0-9+]/g, '')
  if (digits.startsWith('+84')) return digits.slice(1)
  if (digits.startsWith('84')) return digits
  if (digits.startsWith('0')) return `84${digits.slice(1)}`
  return digits.replace(/^\+/, '')
}

export const phoneE164 = (phone: string) => `+${phone84(phone)}`
export const phoneLocal = (phone: string) => `0${phone84(phone).slice(2)}`
