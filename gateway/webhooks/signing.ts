import { createHmac, timingSafeEqual } from 'node:crypto'

// Delivery signatures (docs/webhooks.md "Verifying a delivery"), as Stripe and GitHub sign theirs:
// HMAC-SHA-256 (RFC 2104, FIPS 180-4) keyed with the subscription's secret over
// `<unix seconds>.<raw body>`, sent as `X-IOC-Signature: t=<unix seconds>,v1=<hex>`. The time
// inside the signed text lets a receiver refuse an old delivery replayed by someone else.

export const SIGNATURE_HEADER = 'x-ioc-signature'

export function signature(secret: string, unixSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')
  return `t=${unixSeconds},v1=${mac}`
}

/** The receiver's check, kept here so the docs' snippet has a tested twin. */
export function verifySignature(secret: string, header: string, body: string, nowSeconds: number, toleranceS = 300): boolean {
  const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=', 2) as [string, string]))
  const t = Number(parts.t)
  if (!Number.isInteger(t) || !parts.v1 || Math.abs(nowSeconds - t) > toleranceS) return false
  const want = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'))
  const got = Buffer.from(parts.v1)
  return got.length === want.length && timingSafeEqual(got, want)
}
