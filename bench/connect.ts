// `npm run bench -- connect [--devices N] [--procs P] [--window W] [--rounds R]`
// N devices (default 10,000), registered in a temporary SQLite registry, connect with their
// credentials over loopback from P load processes (W CONNECTs in flight each; defaults 2 and 64)
// and stay connected.
// Measured in the same run against two peers: Debian's mosquitto with a password file (the broker
// an integrator would otherwise deploy) and bare aedes without authentication (the cost of ours).
// Goals (issue 2): >= 1,000 authenticated connects/s, <= 50 KB RSS per connected device.
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openRegistry } from '../gateway/registry/sqlite.ts'
import { positiveArg } from './_args.ts'

const here = dirname(fileURLToPath(import.meta.url))
const CHILD_ARGV = [
  '--import',
  'tsx',
  '--expose-gc',
  ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : []),
]

interface Result {
  name: string
  ok: number
  failed: number
  seconds: number
  idleRss: number
  connectedRss: number
}

function once<T>(child: ChildProcess, pick: (m: Record<string, unknown>) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: Record<string, unknown>) => {
      const v = pick(m)
      if (v !== undefined) {
        child.off('message', onMsg)
        resolve(v)
      }
    }
    child.on('message', onMsg)
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before answering`)))
  })
}

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  const port = (srv.address() as { port: number }).port
  await new Promise((r) => srv.close(r))
  return port
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Runs the load against `port`; returns connects and elapsed time, with connections left open. */
async function load(port: number, creds: Array<[string, string]>, procs: number, window: number) {
  const loaders = Array.from({ length: procs }, () => fork(join(here, '_connect-load.ts'), [], { execArgv: ['--import', 'tsx'] }))
  await Promise.all(loaders.map((l) => once(l, (m) => (m.ready ? true : undefined))))
  const slices = loaders.map((_, i) => creds.filter((_c, j) => j % procs === i))
  const results = await Promise.all(
    loaders.map((l, i) => {
      l.send({ job: { port, creds: slices[i], window } })
      return once(l, (m) => m.done as { ok: number; failed: number; start: number; end: number } | undefined)
    }),
  )
  const start = Math.min(...results.map((r) => r.start))
  const end = Math.max(...results.map((r) => r.end))
  return {
    ok: results.reduce((s, r) => s + r.ok, 0),
    failed: results.reduce((s, r) => s + r.failed, 0),
    seconds: (end - start) / 1000,
    stop: async () => {
      for (const l of loaders) l.send({ cmd: 'stop' })
      await Promise.all(loaders.map((l) => new Promise((r) => (l.exitCode !== null ? r(null) : l.once('exit', r)))))
    },
  }
}

async function nodeBroker(
  name: string,
  mode: 'gateway' | 'aedes',
  dataDir: string,
  creds: Array<[string, string]>,
  procs: number,
  window: number,
): Promise<Result> {
  const child = fork(join(here, '_connect-broker.ts'), [mode, dataDir], { execArgv: CHILD_ARGV })
  try {
    const { mqtt } = await once(child, (m) => m.ports as { mqtt: number } | undefined)
    await sleep(1000)
    const rss = () => {
      child.send({ cmd: 'rss' })
      return once(child, (m) => m.rss as number | undefined)
    }
    const idleRss = await rss()
    const l = await load(mqtt, creds, procs, window)
    await sleep(1000)
    const connectedRss = await rss()
    await l.stop()
    return { name, ok: l.ok, failed: l.failed, seconds: l.seconds, idleRss, connectedRss }
  } finally {
    // A normal exit (so that --cpu-prof, when asked for, is written); killed if it lingers.
    const exited = new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)))
    if (child.connected) child.disconnect()
    await Promise.race([exited, sleep(5000)])
    child.kill()
  }
}

function vmRss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : Number.NaN
}

/** Writes mosquitto's password file and config once; null when mosquitto is not installed. */
function prepareMosquitto(dir: string, creds: Array<[string, string]>): string | null {
  try {
    execFileSync('sh', ['-c', 'command -v mosquitto && command -v mosquitto_passwd'], { stdio: 'ignore' })
  } catch {
    console.log('mosquitto not installed: peer skipped (apt-get install mosquitto)')
    return null
  }
  // mosquitto drops root for its own user: its files go in a directory that user can read.
  const mdir = join(dir, 'mosquitto')
  mkdirSync(mdir, { mode: 0o755 })
  chmodSync(dir, 0o711)
  const pw = join(mdir, 'mosquitto.passwd')
  writeFileSync(pw, creds.map(([id, s]) => `${id}:${s}`).join('\n') + '\n', { mode: 0o644 })
  execFileSync('mosquitto_passwd', ['-U', pw]) // hashes every line in place (PBKDF2-SHA512)
  return pw
}

async function mosquitto(dir: string, pw: string, creds: Array<[string, string]>, procs: number, window: number): Promise<Result> {
  const port = await freePort()
  const conf = join(dir, 'mosquitto', 'mosquitto.conf')
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${pw}`,
      'max_connections -1',
      'persistence false',
      'log_type error',
      '',
    ].join('\n'),
  )
  const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
  try {
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
    // Probe by connecting (binding the port to probe would race mosquitto for it).
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((r) => {
        const s = connect({ port, host: '127.0.0.1' })
        s.once('connect', () => (s.destroy(), r(true)))
        s.once('error', () => r(false))
      })
      if (up) break
      if (child.exitCode !== null) throw new Error(`mosquitto exited: ${stderr.trim()}`)
      await sleep(50)
    }
    await sleep(500)
    const idleRss = vmRss(child.pid!)
    const l = await load(port, creds, procs, window)
    await sleep(1000)
    const connectedRss = vmRss(child.pid!)
    await l.stop()
    return { name: MOSQUITTO, ok: l.ok, failed: l.failed, seconds: l.seconds, idleRss, connectedRss }
  } finally {
    const exited = new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)))
    child.kill()
    await exited
  }
}

const GATEWAY = 'ioc-gateway (aedes + auth + ACL)'
const MOSQUITTO = 'mosquitto 2 (password file)'
const BARE = 'aedes 1.x, no authentication'

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export async function main(args: string[]): Promise<void> {
  const devices = positiveArg(args, 'devices', 10_000, true)
  const procs = positiveArg(args, 'procs', 2, true)
  const window = positiveArg(args, 'window', 64, true)
  const rounds = positiveArg(args, 'rounds', 3, true)
  const dir = mkdtempSync(join(tmpdir(), 'iocgw-bench-connect-'))
  try {
    const t0 = Date.now()
    const registry = openRegistry(dir)
    const creds: Array<[string, string]> = []
    for (let i = 0; i < devices; i++) {
      const id = `bench-${String(i).padStart(6, '0')}`
      const { secret } = await registry.createDevice({ id, kind: 'water_level', name: `Bench ${i}` }, { type: 'cli', id: 'bench' })
      creds.push([id, secret])
    }
    await registry.close()
    console.log(
      `${devices} devices registered in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${procs} load processes, ${window} CONNECTs in flight each`,
    )

    const pw = prepareMosquitto(dir, creds)
    // Rounds interleave the three brokers so that load from elsewhere on the machine falls on all
    // of them alike; medians are reported.
    const runs = new Map<string, Result[]>([[GATEWAY, []], ...(pw ? [[MOSQUITTO, []] as [string, Result[]]] : []), [BARE, []]])
    for (let r = 0; r < rounds; r++) {
      runs.get(GATEWAY)!.push(await nodeBroker(GATEWAY, 'gateway', dir, creds, procs, window))
      if (pw) runs.get(MOSQUITTO)!.push(await mosquitto(dir, pw, creds, procs, window))
      runs.get(BARE)!.push(await nodeBroker(BARE, 'aedes', dir, creds, procs, window))
    }

    const mb = (b: number) => (b / 1024 / 1024).toFixed(1)
    const rate = (r: Result) => r.ok / r.seconds
    const perDevice = (r: Result) => (r.connectedRss - r.idleRss) / 1024 / Math.max(1, r.ok)
    console.log(`\nmedian of ${rounds} rounds (range in brackets)`)
    console.log('broker                              connects/s [min-max]        failed   idle RSS MB   RSS MB connected   KB per device')
    const summary = new Map<string, { rate: number; per: number; failed: number }>()
    for (const [name, rs] of runs) {
      const rates = rs.map(rate)
      const s = { rate: median(rates), per: median(rs.map(perDevice)), failed: rs.reduce((n, r) => n + r.failed, 0) }
      summary.set(name, s)
      const range = `[${Math.min(...rates).toFixed(0)}-${Math.max(...rates).toFixed(0)}]`
      console.log(
        `${name.padEnd(36)}${s.rate.toFixed(0).padStart(10)} ${range.padEnd(17)}${String(s.failed).padStart(7)}${mb(median(rs.map((r) => r.idleRss))).padStart(14)}${mb(median(rs.map((r) => r.connectedRss))).padStart(19)}${s.per.toFixed(1).padStart(16)}`,
      )
    }
    const gw = summary.get(GATEWAY)!
    for (const [name, peer] of summary) {
      if (name !== GATEWAY) console.log(`ratio connects/s gateway / ${name}: ${(gw.rate / peer.rate).toFixed(2)}x`)
    }
    console.log(`goal >= 1000 authenticated connects/s: ${gw.rate >= 1000 ? 'met' : 'NOT met'} (${gw.rate.toFixed(0)})`)
    const gwRuns = runs.get(GATEWAY)!
    const perAll = median(gwRuns.map((r) => (r.connectedRss - r.idleRss) / 1024 / devices))
    console.log(
      `gateway RSS per connected device with ${devices} devices: ${perAll.toFixed(1)} KB ((RSS connected - idle RSS) / ${devices}; idle ${mb(median(gwRuns.map((r) => r.idleRss)))} MB, connected ${mb(median(gwRuns.map((r) => r.connectedRss)))} MB)`,
    )
    console.log(`goal <= 50 KB RSS per connected device: ${gw.per <= 50 ? 'met' : 'NOT met'} (${gw.per.toFixed(1)} KB)`)
    if (gw.failed > 0) console.log(`WARNING: ${gw.failed} gateway connects failed`)
    console.log('(idle RSS of the Node brokers includes the tsx loader; the load generators run on the same 2 cores)')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
