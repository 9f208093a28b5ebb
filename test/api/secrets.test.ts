import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { routeCatalog } from '../../gateway/api/server.ts'
import { bearer, makeApi, type TestApi } from './support.ts'

// No device secret or API token in any log line, nor in any answer but the one that creates or
// rotates it.

let api: TestApi
const secrets: string[] = []
const creationBodies = new Set<string>()

beforeAll(async () => {
  api = await makeApi()
  secrets.push(...Object.values(api.tokens))
  const admin = bearer(api.tokens.admin)
  const remember = (body: string, found: string[]) => {
    creationBodies.add(body)
    secrets.push(...found)
  }
  for (const id of ['sec-dev-1', 'sec-dev-2']) {
    const r = await api.app.inject({
      method: 'POST',
      url: '/api/v1/devices',
      headers: admin,
      payload: { id, kind: 'rain_gauge', name: id, station: 'kim-long' },
    })
    remember(r.body, [r.json().credentials.password])
    const rot = await api.app.inject({ method: 'POST', url: `/api/v1/devices/${id}/rotate-secret`, headers: admin })
    remember(rot.body, [rot.json().credentials.password])
  }
  const t = await api.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: admin, payload: { role: 'officer', name: 'duty desk' } })
  remember(t.body, [t.json().token])
  // Failed attempts carry would-be secrets too; they must not be echoed either.
  for (const guess of ['iocgw_guess-one-aaaaaaaaaaaaaaaaaaaa', 'iocgw_guess-two-bbbbbbbbbbbbbbbbbbbb']) {
    secrets.push(guess)
    await api.app.inject({ method: 'GET', url: '/api/v1/devices', headers: bearer(guess) })
    await api.app.inject({ method: 'GET', url: '/healthz', headers: bearer(guess) })
  }
  await api.app.inject({
    method: 'GET',
    url: '/api/v1/devices',
    headers: { authorization: `Basic ${Buffer.from('sec-dev-1:whatever-secret-ccccccc').toString('base64')}` },
  })
  secrets.push('whatever-secret-ccccccc')
  await api.app.inject({ method: 'PATCH', url: '/api/v1/devices/sec-dev-1', headers: admin, payload: { state: 'disabled' } })
  await api.app.inject({ method: 'POST', url: '/api/v1/devices', headers: admin, payload: '{"broken' })
})
afterAll(async () => api?.close())

describe('secrets', () => {
  it('collected every secret handed out', () => {
    expect(secrets.length).toBe(4 + 4 + 1 + 2 + 1)
    for (const s of secrets) expect(s.length).toBeGreaterThanOrEqual(20)
  })

  it('never writes a secret to the log', () => {
    expect(api.logs.length).toBeGreaterThan(20)
    expect(api.logs.some((l) => l.includes('device registered'))).toBe(true)
    const leaks = api.logs.filter((line) => secrets.some((s) => line.includes(s)))
    expect(leaks).toEqual([])
  })

  it('answers no secret on any readable route', async () => {
    const reads = routeCatalog(api.app).filter((r) => r.method === 'GET' && !r.url.startsWith('/docs'))
    expect(reads.length).toBeGreaterThan(4)
    const bodies: string[] = []
    for (const route of reads) {
      for (const id of ['sec-dev-1', 'sec-dev-2']) {
        const url = route.url.replace(/:([A-Za-z0-9_]+)/g, id)
        const res = await api.app.inject({ method: 'GET', url, headers: bearer(api.tokens.admin), payloadAsStream: true })
        if (res.headers['content-type']?.toString().startsWith('text/event-stream')) {
          res.stream().destroy()
          continue
        }
        const chunks: Buffer[] = []
        for await (const c of res.stream()) chunks.push(c as Buffer)
        bodies.push(`${route.url} ${Buffer.concat(chunks).toString('latin1')}`)
      }
    }
    const leaks = bodies.filter((b) => secrets.some((s) => b.includes(s)) || /"(password|secret|token|secret_hash|token_hash)"/.test(b))
    expect(leaks).toEqual([])
  })

  it('shows each secret only in the answer that created or rotated it', () => {
    for (const s of secrets.slice(4, 9)) expect([...creationBodies].filter((b) => b.includes(s))).toHaveLength(1)
  })
})
