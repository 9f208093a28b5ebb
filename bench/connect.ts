// `npm run bench -- connect [--devices N] [--procs P] [--window W]`
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

const here = dirname(fileURLToPath(import.meta.url))
const CHILD_ARGV = ['--import', 'tsx', '--expose-gc', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [])]

interface Result {
  name: string
  ok: number
  failed: number
  seconds: number
  idleRss: number
  connectedRss: number
}

function arg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(`--${name}`)
  if (i === -1) return dflt
  const v = Number(args[i + 1])
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`)
  return v
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

async function nodeBroker(name: string, mode: 'gateway' | 'aedes', dataDir: string, creds: Array<[string, string]>, procs: number, window: number): Promise<Result> {
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

async function mosquitto(dir: string, creds: Array<[string, string]>, procs: number, window: number): Promise<Result | null> {
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
  const port = await freePort()
  const conf = join(mdir, 'mosquitto.conf')
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous false', `password_file ${pw}`, 'max_connections -1', 'persistence false', 'log_type error', ''].join('\n'))
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
    return { name: 'mosquitto 2 (password file)', ok: l.ok, failed: l.failed, seconds: l.seconds, idleRss, connectedRss }
  } finally {
    child.kill()
  }
}

export async function main(args: string[]): Promise<void> {
  const devices = arg(args, 'devices', 10_000)
  const procs = arg(args, 'procs', 2)
  const window = arg(args, 'window', 64)
  const dir = mkdtempSync(join(tmpdir(), 'iocgw-bench-connect-'))
  try {
    const t0 = Date.now()
    const registry = openRegistry(dir)
    const creds: Array<[string, string]> = []
    for (let i = 0; i < devices; i++) {
      const id = `bench-${String(i).padStart(6, '0')}`
      const { secret } = registry.createDevice({ id, kind: 'water_level', name: `Bench ${i}` }, { type: 'cli', id: 'bench' })
      creds.push([id, secret])
    }
    registry.close()
    console.log(`${devices} devices registered in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${procs} load processes, ${window} CONNECTs in flight each`)

    const results: Result[] = []
    results.push(await nodeBroker('ioc-gateway (aedes + auth + ACL)', 'gateway', dir, creds, procs, window))
    const mq = await mosquitto(dir, creds, procs, window)
    if (mq) results.push(mq)
    results.push(await nodeBroker('aedes 1.x, no authentication', 'aedes', dir, creds, procs, window))

    const mb = (b: number) => (b / 1024 / 1024).toFixed(1)
    console.log('\nbroker                              connects/s   ok/failed      idle RSS MB   RSS MB connected   KB per device')
    for (const r of results) {
      const rate = r.ok / r.seconds
      const per = (r.connectedRss - r.idleRss) / 1024 / Math.max(1, r.ok)
      console.log(
        `${r.name.padEnd(36)}${rate.toFixed(0).padStart(10)}   ${`${r.ok}/${r.failed}`.padEnd(13)}${mb(r.idleRss).padStart(11)}${mb(r.connectedRss).padStart(19)}${per.toFixed(1).padStart(16)}`,
      )
    }
    const gw = results[0]!
    const gwRate = gw.ok / gw.seconds
    const gwPer = (gw.connectedRss - gw.idleRss) / 1024 / Math.max(1, gw.ok)
    for (const peer of results.slice(1)) {
      console.log(`ratio connects/s gateway / ${peer.name}: ${(gwRate / (peer.ok / peer.seconds)).toFixed(2)}x`)
    }
    console.log(`goal >= 1000 authenticated connects/s: ${gwRate >= 1000 ? 'met' : 'NOT met'} (${gwRate.toFixed(0)})`)
    console.log(`goal <= 50 KB RSS per connected device: ${gwPer <= 50 ? 'met' : 'NOT met'} (${gwPer.toFixed(1)} KB)`)
    if (gw.failed > 0) console.log(`WARNING: ${gw.failed} gateway connects failed`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
