// `npm run bench -- security [preauth|flood|brute]`: the outside checks of docs/operations.md
// (Security) against a gateway in a child process. GATEWAY_ROOT=<other checkout> measures that code.
//   preauth: 400 sockets each declaring a 2.16 MB CONNECT and sending 512 KiB of it, never finishing
//   flood:   2,000 idle sockets from one address on the WebSocket port, /healthz meanwhile
//   brute:   3,000 wrong API tokens over MQTT, 50 at a time
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connackOf, connectHeader } from '../test/support/mqtt-wire.ts'

interface Ports {
  http: number
  mqtt: number
  ws: number
}
interface Child {
  proc: ChildProcess
  ports: Ports
  log: string
  dir: string
}

async function start(): Promise<Child> {
  const dir = mkdtempSync(join(tmpdir(), 'iocgw-sec-'))
  const log = join(dir, 'gateway.log')
  const proc = fork(join(import.meta.dirname, '_security-gateway.ts'), [dir, log], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const ports = await new Promise<Ports>((resolve, reject) => {
    proc.once('message', (m) => resolve((m as { ports: Ports }).ports))
    proc.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)))
  })
  return { proc, ports, log, dir }
}

function stats(c: Child): Promise<{ rss: number; metrics: string }> {
  return new Promise((resolve) => {
    c.proc.once('message', (m) => resolve(m as { rss: number; metrics: string }))
    c.proc.send({ cmd: 'stats' })
  })
}

async function stop(c: Child): Promise<void> {
  const exited = new Promise((r) => c.proc.once('exit', r))
  c.proc.send({ cmd: 'exit' })
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
  c.proc.kill()
  rmSync(c.dir, { recursive: true, force: true })
}

/** Sum of a metric's samples whose labels contain `match`. */
function metric(text: string, name: string, match = ''): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`iocgw_${name}`) && l.includes(match))
    .reduce((s, l) => s + Number(l.split(' ').pop()), 0)
}

const MB = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function socketTo(port: number): { s: Socket; closed: () => boolean } {
  const s = connect({ port, host: '127.0.0.1' })
  let closed = false
  s.on('close', () => {
    closed = true
  })
  s.on('error', () => {})
  return { s, closed: () => closed }
}

async function preauth(c: Child): Promise<void> {
  const base = (await stats(c)).rss
  const n = 400
  const socks = Array.from({ length: n }, () => socketTo(c.ports.mqtt))
  await sleep(500)
  const header = connectHeader(2_160_000)
  const chunk = Buffer.alloc(64 * 1024, 0x41)
  for (const { s } of socks) s.write(header)
  for (let i = 0; i < 8; i++) {
    for (const { s } of socks) if (!s.destroyed) s.write(chunk)
    await sleep(100)
  }
  await sleep(1000)
  const during = await stats(c)
  const open = socks.filter((x) => !x.closed()).length
  for (const { s } of socks) s.destroy()
  await sleep(1000)
  const after = await stats(c)
  console.log(
    `preauth: ${n} sockets x 2.16 MB declared, 512 KiB sent each: RSS ${MB(base)} before, ${MB(during.rss)} while sending (+${MB(during.rss - base)}), ${MB(after.rss)} after closing; ` +
      `${open} still open; closed by limit: preauth_bytes ${metric(during.metrics, 'mqtt_connections_closed_total', 'preauth_bytes')}, ` +
      `preauth_budget ${metric(during.metrics, 'mqtt_connections_closed_total', 'preauth_budget')}; oversize ${metric(during.metrics, 'mqtt_oversize_packets_total')}`,
  )
}

async function flood(c: Child): Promise<void> {
  const n = 2000
  const socks: Array<{ s: Socket; closed: () => boolean }> = []
  for (let i = 0; i < n; i++) {
    socks.push(socketTo(c.ports.ws))
    if (i % 200 === 199) await sleep(50)
  }
  await sleep(1500)
  const openAfterConnect = socks.filter((x) => !x.closed()).length
  const health = await fetch(`http://127.0.0.1:${c.ports.http}/healthz`).then(
    (r) => r.status,
    (e: Error) => e.message,
  )
  const t0 = Date.now()
  while (Date.now() - t0 < 20_000) {
    await sleep(500)
    if (socks.every((x) => x.closed())) break
  }
  const gone = Date.now() - t0
  const left = socks.filter((x) => !x.closed()).length
  const s = await stats(c)
  console.log(
    `flood: ${n} idle sockets from 127.0.0.1 on the WebSocket port: ${openAfterConnect} held, ${n - openAfterConnect} refused ` +
      `(address_limit ${metric(s.metrics, 'mqtt_connections_closed_total', 'address_limit')}); /healthz ${health}; ` +
      `${left} still open ${Math.round((gone + 1500) / 1000)} s after connecting (connect_timeout ${metric(s.metrics, 'mqtt_connections_closed_total', 'connect_timeout')})`,
  )
  for (const { s: sock } of socks) sock.destroy()
}

async function brute(c: Child): Promise<void> {
  const n = 3000
  const logBefore = statSync(c.log).size
  const codes = new Map<number, number>()
  const t0 = performance.now()
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(Array.from({ length: 50 }, (_, j) => connackOf(c.ports.mqtt, 'token', `iocgw_wrong-${i + j}`)))
    for (const code of batch) codes.set(code, (codes.get(code) ?? 0) + 1)
  }
  const seconds = (performance.now() - t0) / 1000
  // One summary interval (10 s), so the summary line is in the count.
  await sleep(11_000)
  const s = await stats(c)
  const logBytes = statSync(c.log).size - logBefore
  console.log(
    `brute: ${n} wrong tokens over MQTT in ${seconds.toFixed(1)} s (${Math.round(n / seconds)}/s): CONNACK ${[...codes].map(([k, v]) => `${k}: ${v}`).join(', ')}; ` +
      `refused bad_token ${metric(s.metrics, 'mqtt_connect_refused_total', 'bad_token')}, rate_limited ${metric(s.metrics, 'mqtt_connect_refused_total', 'rate_limited')}; ` +
      `log +${logBytes} bytes`,
  )
}

export async function main(args: string[]): Promise<void> {
  const checks: Record<string, (c: Child) => Promise<void>> = { preauth, flood, brute }
  const names = args.length > 0 ? args : Object.keys(checks)
  console.log(`gateway from ${process.env.GATEWAY_ROOT ?? 'this checkout'}`)
  for (const name of names) {
    const check = checks[name]
    if (!check) throw new Error(`unknown check "${name}"; one of ${Object.keys(checks).join(', ')}`)
    const c = await start()
    try {
      await check(c)
    } finally {
      await stop(c)
    }
  }
}
