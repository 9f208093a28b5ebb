import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** True when the command is on PATH. */
export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/**
 * Whether a test that needs an external program may run. Outside CI a missing program skips the
 * test (returns false); in CI it throws, because CI must never pass by skipping.
 */
export function requireCommand(cmd: string): boolean {
  if (hasCommand(cmd)) return true
  if (process.env.CI) throw new Error(`CI: required program "${cmd}" is not installed (.ci/run must install it)`)
  return false
}

// freePort hands out ports below the kernel's ephemeral range (ip_local_port_range, 32768-60999
// by default), not the kernel's pick for port 0, which comes from that range: between the check
// and the server's own bind, any outgoing connection (to InfluxDB, Redis, PostgreSQL…) could take
// the port as its local end. Each vitest worker draws from its own slice, so two test files running
// at once never draw the same port either.
const PORT_LOW = 20_000
const PORT_HIGH = Math.min(32_767, ephemeralLow() - 1)
const SLICES = 8
const slice = (() => {
  const size = Math.floor((PORT_HIGH - PORT_LOW + 1) / SLICES)
  const n = (Number(process.env.VITEST_POOL_ID ?? 1) - 1) % SLICES
  const first = PORT_LOW + Math.max(0, n) * size
  return { first, size, next: Math.floor(Math.random() * size) }
})()

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    return Number.isInteger(low) && low > PORT_LOW + 1000 ? low : 32_768
  } catch {
    return 32_768
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
  })
}

/** A TCP port on 127.0.0.1 that was free a moment ago, outside the range outgoing connections take theirs from. */
export async function freePort(): Promise<number> {
  for (let tried = 0; tried < slice.size; tried++) {
    const port = slice.first + (slice.next++ % slice.size)
    if (await canListen(port)) return port
  }
  throw new Error(`no free port in ${slice.first}-${slice.first + slice.size - 1}`)
}

/** A server's start whose port another test's server answered (freePort's port was taken before it bound). */
export class PortTaken extends Error {}

/**
 * A port found free can be taken by another test's server before ours binds it: ours then exits,
 * but the other may already have answered the start's check, and the tests would talk to it.
 * `start` tells that case by throwing PortTaken, and is tried again (on new ports) up to 3 times.
 */
export async function startOnFreePorts<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start()
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt === 3) throw err
    }
  }
}

/** A fresh temporary directory and its remover. */
export function tempDir(prefix = 'iocgw-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/** Polls until `check` returns a truthy value or the timeout passes. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 10_000, stepMs = 25): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v) return v as NonNullable<T>
    } catch (err) {
      last = err
    }
    if (Date.now() > end) throw new Error(`waitFor timed out after ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`)
    await new Promise((r) => setTimeout(r, stepMs))
  }
}
