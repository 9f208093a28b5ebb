import { Compile } from 'typebox/compile'
import { afterAll, describe, expect, it } from 'vitest'
import { routeCatalog, type RouteInfo } from '../../gateway/api/server.ts'
import { makeApi } from './support.ts'
import { properties, sample, typeOf, unboundedNodes } from './schema-sample.ts'

// Bad input on every route as an admin (who passes every role check): each must answer 400 with a
// message naming the field, never 500. Routes are read from the app, so later ones are covered.

const api = await makeApi()
afterAll(async () => api.close())
const admin = { authorization: `Bearer ${api.tokens.admin}` }

const routes = routeCatalog(api.app).filter((r) => r.method !== 'HEAD' && r.roles !== 'public')

function urlFor(route: RouteInfo, override: Record<string, string> = {}): string {
  const paramSchemas = Object.fromEntries(properties(route.schema.params))
  return route.url.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) =>
    name in override ? (override[name] as string) : encodeURIComponent(String(sample(paramSchemas[name]) ?? 'abc-123')),
  )
}

const WRONG_TYPE: Record<string, unknown> = {
  string: 12345,
  integer: 'text',
  number: 'text',
  boolean: 'yes',
  array: 'text',
  object: 'text',
}

async function send(route: RouteInfo, opts: { url?: string; payload?: unknown; rawBody?: string; query?: string }) {
  const res = await api.app.inject({
    method: route.method as 'POST',
    url: (opts.url ?? urlFor(route)) + (opts.query ? `?${opts.query}` : ''),
    headers: { ...admin, ...(opts.rawBody !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(opts.rawBody !== undefined ? { payload: opts.rawBody } : opts.payload !== undefined ? { payload: opts.payload as object } : {}),
    payloadAsStream: true,
  })
  const chunks: Buffer[] = []
  if (res.statusCode === 400 || res.statusCode >= 500) for await (const c of res.stream()) chunks.push(c as Buffer)
  else res.stream().destroy()
  const text = Buffer.concat(chunks).toString('utf8')
  return { status: res.statusCode, body: text ? (JSON.parse(text) as { statusCode: number; error: string; message: string }) : undefined }
}

function expect400(res: Awaited<ReturnType<typeof send>>, names: string | RegExp, what: string) {
  expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(400)
  expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' })
  if (typeof names === 'string') expect(res.body?.message, what).toContain(names)
  else expect(res.body?.message, what).toMatch(names)
}

const NAMES_A_FIELD = /^(body|querystring|params|headers)(\/[^ ]+)? /

describe.each(routes.map((r) => [`${r.method} ${r.url}`, r] as const))('%s', (_name, route) => {
  it('bounds every string and array it accepts', () => {
    const open = [
      ...unboundedNodes(route.schema.body, 'body'),
      ...unboundedNodes(route.schema.querystring, 'querystring'),
      ...unboundedNodes(route.schema.params, 'params'),
    ]
    expect(open).toEqual([])
  })

  if (route.params.length > 0) {
    it.each(['..%2Fx', 'a%2Fb', '', 'x'.repeat(300), '%00', '%20'])('refuses the odd id "%s"', async (odd) => {
      for (const name of route.params) {
        const res = await send(route, {
          url: urlFor(route, { [name]: odd }),
          payload: route.schema.body ? sample(route.schema.body) : undefined,
        })
        expect400(res, `params/${name}`, `param ${name}="${odd}"`)
      }
    })
  }

  if (route.schema.body !== undefined) {
    it('refuses malformed JSON', async () => {
      for (const raw of ['{"a":', '{bad}', '[1,2', '{"__proto__": {"admin": true}}']) {
        expect400(await send(route, { rawBody: raw }), /JSON/, raw)
      }
    })

    it('refuses a body of the wrong type', async () => {
      expect400(await send(route, { rawBody: '[1, 2]' }), /^body/, 'array body')
      expect400(await send(route, { rawBody: '"text"' }), /^body/, 'string body')
    })

    const check = Compile(route.schema.body as never)
    const valid = sample(route.schema.body)
    if (check.Check(valid)) {
      it('refuses an unknown field, naming it', async () => {
        expect400(await send(route, { payload: { ...(valid as object), zz_unknown: 1 } }), 'body/zz_unknown', 'unknown field')
      })
      it('refuses each field with the wrong type or an over-long value, naming it', async () => {
        for (const [key, schema] of properties(route.schema.body)) {
          const t = typeOf(schema)
          if (t && t in WRONG_TYPE) {
            expect400(await send(route, { payload: { ...(valid as object), [key]: WRONG_TYPE[t] } }), `body/${key}`, `${key} wrong type`)
          }
          if (t === 'string') {
            expect400(
              await send(route, { payload: { ...(valid as object), [key]: 'x'.repeat(20_000) } }),
              `body/${key}`,
              `${key} over-long`,
            )
          }
        }
      })
    } else {
      it('refuses bad fields with a message naming one', async () => {
        expect400(await send(route, { payload: { zz_unknown: 1 } }), NAMES_A_FIELD, 'unknown field')
      })
    }
  }

  if (route.schema.querystring !== undefined) {
    // A query that passes on its own (required parameters filled), then one parameter broken.
    const base = sample(route.schema.querystring) as Record<string, unknown>
    const validQuery = Compile(route.schema.querystring as never).Check(base)
    const qs = (extra: Record<string, string>) =>
      new URLSearchParams({
        ...(validQuery ? Object.fromEntries(Object.entries(base).map(([k, v]) => [k, String(v)])) : {}),
        ...extra,
      }).toString()
    it('refuses an unknown query parameter and bad values, naming them', async () => {
      expect400(
        await send(route, { query: qs({ zz_unknown: '1' }) }),
        validQuery ? 'querystring/zz_unknown' : NAMES_A_FIELD,
        'unknown query parameter',
      )
      for (const [key, schema] of properties(route.schema.querystring)) {
        const t = typeOf(schema)
        const names = validQuery ? `querystring/${key}` : NAMES_A_FIELD
        if (t === 'integer' || t === 'number') expect400(await send(route, { query: qs({ [key]: 'abc' }) }), names, `${key}=abc`)
        if (t === 'string') expect400(await send(route, { query: qs({ [key]: 'x'.repeat(3000) }) }), names, `${key} over-long`)
      }
    })
  }
})

describe('device routes, field by field', () => {
  const post = (payload: unknown) => api.app.inject({ method: 'POST', url: '/api/v1/devices', headers: admin, payload: payload as object })

  it('names the allowed kinds', async () => {
    const res = await post({ kind: 'radar', name: 'x' })
    expect(res.statusCode).toBe(400)
    expect(res.json().message).toBe('body/kind must be one of water_level, rain_gauge, air_quality, camera')
  })

  it('refuses ids outside the pattern of docs/api.md', async () => {
    for (const id of ['A', 'ab', '-abc', 'abc_d', '../x', 'a/b', 'x'.repeat(65), 'Trạm-1']) {
      const res = await post({ id, kind: 'camera', name: 'x' })
      expect(res.statusCode, id).toBe(400)
      expect(res.json().message, id).toMatch(/^body\/id must (match|not have more)/)
    }
    const got = await api.app.inject({ method: 'GET', url: '/api/v1/devices/A', headers: admin })
    expect(got.statusCode).toBe(400)
    expect(got.json().message).toMatch(/^params\/id must match/)
  })

  it('names a missing field and a nested bad field', async () => {
    expect((await post({ kind: 'camera' })).json().message).toBe('body/name is required')
    const nested = await post({ kind: 'camera', name: 'x', location: { lat: 200, lon: 1 } })
    expect(nested.json().message).toMatch(/^body\/location\/lat must be/)
    const extra = await post({ kind: 'camera', name: 'x', location: { lat: 1, lon: 1, alt: 3 } })
    expect(extra.json().message).toBe('body/location/alt is not an accepted field')
  })

  it('refuses an over-large body with 413 and an empty PATCH with 400', async () => {
    const big = await post({ kind: 'camera', name: 'x', tags: Array.from({ length: 20_000 }, () => 'tag-xxxxxxxxxxxx') })
    expect(big.statusCode).toBe(413)
    const created = await post({ id: 'patch-me', kind: 'camera', name: 'x' })
    expect(created.statusCode).toBe(201)
    const empty = await api.app.inject({ method: 'PATCH', url: '/api/v1/devices/patch-me', headers: admin, payload: {} })
    expect(empty.statusCode).toBe(400)
    expect(empty.json().message).toMatch(/^body /)
  })

  it('maps registry errors: unknown device 404, duplicate id 409, unknown route 404 in the same shape', async () => {
    const missing = await api.app.inject({ method: 'GET', url: '/api/v1/devices/not-there', headers: admin })
    expect(missing.statusCode).toBe(404)
    expect(missing.json()).toEqual({ statusCode: 404, error: 'Not Found', message: 'device "not-there" does not exist' })
    const patchMissing = await api.app.inject({ method: 'PATCH', url: '/api/v1/devices/not-there', headers: admin, payload: { name: 'y' } })
    expect(patchMissing.statusCode).toBe(404)
    await post({ id: 'dup-1', kind: 'camera', name: 'x' })
    const dup = await post({ id: 'dup-1', kind: 'camera', name: 'x' })
    expect(dup.statusCode).toBe(409)
    expect(dup.json().message).toMatch(/already exists/)
    const nowhere = await api.app.inject({ method: 'GET', url: '/api/v2/nothing', headers: admin })
    expect(nowhere.statusCode).toBe(404)
    expect(nowhere.json()).toMatchObject({ statusCode: 404, error: 'Not Found' })
  })
})
