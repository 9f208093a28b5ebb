import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { stringify } from 'yaml'

export const ROOT = new URL('../..', import.meta.url).pathname

/** Writes an edge config file and answers its path. */
export function writeEdgeConfig(dir: string, cfg: Record<string, unknown>): string {
  const file = join(dir, `edge-${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(file, stringify(cfg))
  return file
}

/** Spawns the agent as its own process (`node --import tsx edge/main.ts --config FILE`). */
export function spawnAgent(configFile: string, env: NodeJS.ProcessEnv = {}): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'edge/main.ts'), '--config', configFile], {
    cwd: ROOT,
    env: { ...process.env, IOC_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  return Object.assign(child, { output: () => out })
}

export async function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
  return new Promise((r) => child.once('exit', (code) => r(code)))
}

/** The agent's queue, read from outside (WAL allows a reader beside the writer). */
export function queueState(path: string): { depth: number; nextSeq: number; dropped: number } {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    const depth = (db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n
    const meta = Object.fromEntries(
      (db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]),
    )
    return { depth, nextSeq: Number(meta.next_seq ?? 0), dropped: Number(meta.dropped ?? 0) }
  } finally {
    db.close()
  }
}
