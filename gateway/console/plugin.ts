import fastifyStatic from '@fastify/static'
import type { FastifyReply } from 'fastify'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { ApiApp } from '../api/types.ts'
import { PACKAGE_ROOT } from '../util/package-root.ts'
import { tileOrigin, type ConsoleConfig } from './config.ts'

// The operator console (docs/console.md): the static files Vite builds from gateway/console/web
// into gateway/console/dist (`npm run build:console`, run by `npm install`), served at `/` by the
// gateway itself. The API stays under /api/v1, the OpenAPI page under /docs.

export const DEFAULT_DIST = join(PACKAGE_ROOT, 'gateway', 'console', 'dist')

/**
 * The console's Content-Security-Policy (W3C CSP Level 3). Stricter than the one /docs gets from
 * helmet in api/server.ts (swagger-ui needs inline styles): no inline script or style at all, no
 * origin but the gateway's own (and, for images only, the map tile server when one is
 * configured), and DOM sinks such as innerHTML refused outright (Trusted Types), so a device name
 * can only ever become text.
 */
export function consoleCsp(tiles: string | null = null): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    tiles ? `img-src 'self' ${tiles}` : "img-src 'self'",
    ...CSP_REST,
  ].join('; ')
}

const CSP_REST = [
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
]

/** The policy with no tile server. */
export const CONSOLE_CSP = consoleCsp()

/**
 * Paths the single-page app handles itself; each answers index.html. Any other path keeps the
 * API's JSON 404, so a mistyped API URL is never answered with a web page.
 */
export const CLIENT_ROUTES = [
  '/',
  '/alerts/:id',
  '/devices',
  '/stations',
  '/stations/:id',
  '/cameras',
  '/cameras/:id',
  '/notifications',
  '/reports',
  '/webhooks',
] as const

export interface ConsoleOptions {
  /** Folder holding the built index.html and assets/ (default gateway/console/dist). */
  dist?: string
  /** The `console` config section: the Stations map's tile server, if any. */
  map?: Partial<ConsoleConfig>
}

/** What the console reads at start from GET /console.json (docs/console.md, "Map tiles"). */
export interface ConsoleSettings {
  map: { tileUrl: string | null; attribution: string | null; maxZoom: number }
}

const NOT_BUILT = (dist: string) =>
  `The operator console is not built (no ${join(dist, 'index.html')}): run "npm run build:console" ` +
  `(npm install runs it). The API at /api/v1 and its documentation at /docs work without it.`

export async function consolePlugin(app: ApiApp, opts: ConsoleOptions = {}): Promise<void> {
  const dist = opts.dist ?? DEFAULT_DIST
  const route = { config: { roles: 'public' as const }, schema: { hide: true } }

  const csp = consoleCsp(tileOrigin(opts.map))
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', csp)
    return payload
  })
  const settings: ConsoleSettings = {
    map: { tileUrl: opts.map?.mapTileUrl ?? null, attribution: opts.map?.mapAttribution ?? null, maxZoom: opts.map?.mapMaxZoom ?? 18 },
  }
  // Public like the page itself: the login form shows before any session, and a tile address is
  // no secret (every browser that draws the map fetches from it).
  app.get('/console.json', route, async (_request, reply) => reply.header('cache-control', 'no-cache').send(settings))

  if (!existsSync(join(dist, 'index.html'))) {
    // The gateway runs without its console (e.g. a clone where the build step was skipped); it
    // says so once in the log and on every console page.
    app.log.warn({ dist }, NOT_BUILT(dist))
    for (const url of CLIENT_ROUTES) {
      app.get(url, route, async (_request, reply) => reply.code(503).type('text/plain; charset=utf-8').send(NOT_BUILT(dist)))
    }
    return
  }

  // serve: false: only reply.sendFile; the routes below declare their roles like every other route.
  await app.register(fastifyStatic, { root: dist, serve: false, index: false, dotfiles: 'deny' })

  const page = (reply: FastifyReply) =>
    // index.html names the hashed files of the current build, so it must never be cached.
    reply.header('cache-control', 'no-cache').sendFile('index.html', dist, { cacheControl: false })
  for (const url of CLIENT_ROUTES) app.get(url, route, async (_request, reply) => page(reply))

  app.get('/assets/*', route, async (request, reply) => {
    const file = (request.params as { '*': string })['*']
    // Vite puts a content hash in every asset's name: a cached copy is never stale.
    return reply.sendFile(`assets/${file}`, dist, { maxAge: '365d', immutable: true })
  })
}
