// Whether build/ (`npm run build`: tsc -p tsconfig.build.json, then this file with --write) was
// made from exactly the sources on disk. The build records every source file's size and mtime;
// gateway/cli/iocgw.js runs the build only while each file is still there, unchanged, and no
// source was added, so an edited checkout never runs old code. Plain JavaScript: it runs before
// anything that can load TypeScript.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import process from 'node:process'
import { fileURLToPath, URL } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const stampOf = (root) => join(root, 'build', 'sources.json')
// tsconfig.build.json's include and exclude.
const DIRS = ['gateway', 'edge', 'dashboards', 'models']
const SKIP = new Set(['gateway/console/web', 'gateway/console/dist', 'gateway/console/vite.config.ts'])

function sources(root) {
  const out = {}
  for (const dir of DIRS) {
    for (const entry of readdirSync(join(root, dir), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue
      const path = join(entry.parentPath ?? entry.path, entry.name)
      const rel = relative(root, path)
      if ([...SKIP].some((s) => rel === s || rel.startsWith(`${s}/`))) continue
      const st = statSync(path)
      out[rel] = `${st.size}:${st.mtimeMs}`
    }
  }
  return out
}

/** Records the sources build/ was just made from (`npm run build`). */
export function writeBuildStamp(root = ROOT) {
  writeFileSync(stampOf(root), `${JSON.stringify(sources(root), null, 1)}\n`)
}

/** True when build/ was made from exactly the sources now under `root`. */
export function buildIsCurrent(root = ROOT) {
  let recorded
  try {
    recorded = JSON.parse(readFileSync(stampOf(root), 'utf8'))
  } catch {
    return false
  }
  const now = sources(root)
  const names = Object.keys(now)
  return names.length === Object.keys(recorded).length && names.every((n) => recorded[n] === now[n])
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--write') writeBuildStamp()
