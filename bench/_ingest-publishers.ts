// Publisher processes for `npm run bench -- ingest` (bench/ingest.ts): the options every run shares,
// the child processes that publish (bench/_ingest-publisher.ts) and what each one answers.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { ticksOf, type CpuSampler } from './_cpu.ts'

export const ROOT = new URL('..', import.meta.url).pathname

export interface Opts {
  seconds: number
  publishers: number
  devices: number
  window: number
}

export interface PubResult {
  sent: number
  acked: number
  errors: number
  start: number
  lastAck: number
  /** After the warm-up (WARMUP_MS): the figures the goals are read from. */
  latencies: number[]
  latenciesAll: number[]
}

/**
 * Latency percentiles leave out messages sent in a run's first 2 s: every publisher starts at
 * once, from idle, and a max run's processes are new (their compiler threads take up to half a
 * core each for a second or so). The p99 over the whole run is printed beside it.
 */
export const WARMUP_MS = 2000

export function procStats(pid: number): { cpu: number; rss: number; hwm: number } {
  const ticks = ticksOf(pid) ?? 0
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
  return { cpu: ticks / 100, rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 }
}

export function runNode(script: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess & { out: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  return Object.assign(child, { out: () => out })
}

export const exited = (c: ChildProcess) =>
  c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r()))

export interface Publishers {
  /** `rates[i]`: readings/s for publisher process i (0: as fast as acknowledgements allow). */
  run(rates: number[], tsAfter?: number): Promise<PubResult[]>
  close(): Promise<void>
}

/**
 * Publisher processes with every device connected. They stay connected from one run to the next:
 * a process's first second costs its V8 compiler threads up to half a core each, which at half
 * rate starved the gateway into a backlog that lasted past the warm-up.
 */
export async function startPublishers(
  o: Opts,
  url: string,
  devices: Array<{ id: string; password?: string }>,
  cpu: CpuSampler,
): Promise<Publishers> {
  const groups: Array<typeof devices> = Array.from({ length: o.publishers }, () => [])
  devices.forEach((d, i) => groups[i % o.publishers]!.push(d))
  const procs = groups.map((g, i) => {
    const p = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'bench/_ingest-publisher.ts'),
        JSON.stringify({ url, devices: g, mode: i % 2 === 0 ? 'single' : 'array' }),
      ],
      {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    )
    cpu.track('publishers', p.pid)
    return { p, lines: createInterface({ input: p.stdout! })[Symbol.asyncIterator]() }
  })
  const next = async (x: (typeof procs)[number]): Promise<string> => {
    const r = await x.lines.next()
    if (r.done) throw new Error(`publisher ${x.p.pid} ended (exit ${x.p.exitCode ?? x.p.signalCode})`)
    return r.value
  }
  await Promise.all(procs.map(next))
  return {
    async run(rates, tsAfter = 0) {
      // Every process starts at the same moment: the rate's window (first publish to last
      // acknowledgement) is then the time they really ran together.
      const startAt = Date.now() + 500
      procs.forEach((x, i) =>
        x.p.stdin!.write(
          `${JSON.stringify({ seconds: o.seconds, rate: rates[i] ?? 0, window: o.window, startAt, warmupMs: WARMUP_MS, tsAfter })}\n`,
        ),
      )
      return Promise.all(procs.map(async (x) => JSON.parse(await next(x)) as PubResult))
    },
    async close() {
      for (const x of procs) x.p.stdin!.end()
      await Promise.all(procs.map((x) => exited(x.p)))
    },
  }
}

/** One run on publishers of its own. */
export async function runPublishers(
  o: Opts,
  url: string,
  devices: Array<{ id: string; password?: string }>,
  cpu: CpuSampler,
): Promise<PubResult[]> {
  const pubs = await startPublishers(o, url, devices, cpu)
  try {
    return await pubs.run([])
  } finally {
    await pubs.close()
  }
}
