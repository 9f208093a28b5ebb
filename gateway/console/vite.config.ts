import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

// The operator console (docs/console.md): built into hashed static files that the gateway serves
// at `/` (gateway/console/plugin.ts). Nothing is fetched from a CDN at run time.
const web = fileURLToPath(new URL('./web/', import.meta.url))
const dist = fileURLToPath(new URL('./dist/', import.meta.url))

export default defineConfig({
  root: web,
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: dist,
    emptyOutDir: true,
    // Chromium, Firefox and Safari of the last few years; the operations room and officers' phones.
    target: 'es2022',
    assetsDir: 'assets',
    // Everything stays a file: inlined data: URLs would need a looser CSP.
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
    // No modulepreload polyfill: one entry chunk, and no inline script to allow.
    modulePreload: { polyfill: false },
  },
})
