// Where a run's CPU went, machine-wide and per process group, sampled from /proc so a benchmark
// can say whether its subject or the machine was the limit (a single-threaded process shows up as
// ~1 core while the machine still has idle cores; a saturated machine shows no idle at all).
import { readdirSync, readFileSync } from 'node:fs'
import { cpus } from 'node:os'

const TICK_S = 0.01 // USER_HZ is 100 on Linux

interface Sample {
  t: number
  /** Whole machine: busy and total jiffies since boot (/proc/stat "cpu" line). */
  busy: number
  total: number
  /** Per group: CPU ticks of its processes (utime + stime, all threads), cumulative. */
  groups: Map<string, number>
}

export interface CpuWindow {
  seconds: number
  /** Cores busy on the whole machine, out of `cores`. */
  machineBusy: number
  cores: number
  /** Cores used by each group over the window. */
  groups: Map<string, number>
}

function machine(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!
  const v = line.trim().split(/\s+/).slice(1).map(Number)
  const idle = (v[3] ?? 0) + (v[4] ?? 0) // idle + iowait
  const total = v.slice(0, 8).reduce((s, x) => s + x, 0) // up to steal; guest is inside user
  return { busy: total - idle, total }
}

/** CPU ticks (utime + stime, all threads) of a process, or undefined once it has exited. */
export function ticksOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(f[11]) + Number(f[12])
  } catch {
    return undefined // exited
  }
}

/** Pids whose command line contains `needle` (e.g. an influxd config path). */
export function pidsMatching(needle: string): number[] {
  const out: number[] = []
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle)) out.push(Number(d))
    } catch {
      // gone between readdir and read
    }
  }
  return out
}

/**
 * Samples every `everyMs` until stopped. Processes are added to named groups as they start; a
 * process that exits keeps the ticks it had at its last sample (so a publisher's CPU is counted
 * although it is gone when the window is read).
 */
export class CpuSampler {
  private readonly samples: Sample[] = []
  private readonly members = new Map<string, Map<number, number>>()
  private readonly timer: NodeJS.Timeout

  constructor(everyMs = 200) {
    this.sample()
    this.timer = setInterval(() => this.sample(), everyMs)
    this.timer.unref()
  }

  track(group: string, pid: number | undefined): void {
    if (pid === undefined) return
    let g = this.members.get(group)
    if (!g) this.members.set(group, (g = new Map()))
    if (!g.has(pid)) g.set(pid, ticksOf(pid) ?? 0)
  }

  private sample(): void {
    const groups = new Map<string, number>()
    for (const [name, pids] of this.members) {
      let sum = 0
      for (const [pid, last] of pids) {
        const t = ticksOf(pid) ?? last
        pids.set(pid, t)
        sum += t
      }
      groups.set(name, sum)
    }
    this.samples.push({ t: Date.now(), ...machine(), groups })
  }

  /** CPU between two wall-clock instants (ms), from the nearest samples inside the window. */
  window(from: number, to: number): CpuWindow {
    this.sample()
    const inside = this.samples.filter((s) => s.t >= from && s.t <= to + 250)
    const a = inside[0] ?? this.samples[0]!
    const b = inside[inside.length - 1] ?? this.samples[this.samples.length - 1]!
    const seconds = Math.max((b.t - a.t) / 1000, 1e-3)
    const cores = cpus().length
    const groups = new Map<string, number>()
    for (const [name, t] of b.groups) groups.set(name, ((t - (a.groups.get(name) ?? 0)) * TICK_S) / seconds)
    const machineBusy = b.total > a.total ? ((b.busy - a.busy) / (b.total - a.total)) * cores : 0
    return { seconds, machineBusy, cores, groups }
  }

  stop(): void {
    clearInterval(this.timer)
  }
}
