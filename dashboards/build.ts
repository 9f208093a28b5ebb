import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { buildBoards, serialize, type BuildOptions } from './index.ts'
import { REPO_ROOT } from './lib/stations.ts'

/**
 * Where built boards go. They are committed: docker-compose mounts this folder into Grafana's
 * file provider, which needs the JSON to exist before any container starts, and a test checks that
 * the committed files equal a fresh build.
 */
export const DEFAULT_OUT_DIR = resolve(REPO_ROOT, 'dashboards/build')

export interface WrittenBoard {
  file: string
  path: string
  uid: string
  title: string
  panels: number
}

/** Writes every board into `outDir` and removes stale board files left from an earlier build. */
export function writeBoards(outDir = DEFAULT_OUT_DIR, opts: BuildOptions = {}): { written: WrittenBoard[]; stationsSource: string } {
  const dir = resolve(outDir)
  mkdirSync(dir, { recursive: true })
  const { boards, stationsSource } = buildBoards(opts)
  const keep = new Set(boards.map((b) => b.file))
  for (const f of readdirSync(dir)) if (f.endsWith('.json') && !keep.has(f)) rmSync(join(dir, f))
  const written = boards.map((b) => {
    const path = join(dir, b.file)
    writeFileSync(path, serialize(b.json))
    const panels = (b.json.panels ?? []).filter((p) => p.type !== 'row').length
    return { file: b.file, path, uid: b.uid, title: b.title, panels }
  })
  return { written, stationsSource }
}
