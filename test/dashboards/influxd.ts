import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, tempDir, waitFor } from '../support/services.ts'

// A real influxd (1.x, InfluxQL) on free loopback ports in a temporary directory, for the board
// query tests. Every listener influxd opens by default is bound to a free port or switched off so
// that several tests (and other helpers' tests) can run side by side.

export interface Influxd {
  url: string
  query(q: string, db?: string): Promise<InfluxResult>
  write(lines: string, db: string): Promise<void>
  stop(): Promise<void>
}

export interface InfluxSeries {
  name: string
  tags?: Record<string, string>
  columns: string[]
  values: unknown[][]
}
export interface InfluxResult {
  statement_id: number
  series?: InfluxSeries[]
  error?: string
}

export async function startTestInfluxd(): Promise<Influxd> {
  const dir = tempDir('iocgw-influxd-')
  const [http, rpc] = [await freePort(), await freePort()]
  const conf = join(dir.path, 'influxdb.conf')
  writeFileSync(
    conf,
    [
      'reporting-enabled = false',
      `bind-address = "127.0.0.1:${rpc}"`,
      '[meta]',
      `  dir = "${join(dir.path, 'meta')}"`,
      '  logging-enabled = false',
      '[data]',
      `  dir = "${join(dir.path, 'data')}"`,
      `  wal-dir = "${join(dir.path, 'wal')}"`,
      '  query-log-enabled = false',
      '[monitor]',
      '  store-enabled = false',
      '[http]',
      `  bind-address = "127.0.0.1:${http}"`,
      '  log-enabled = false',
      '[ifql]',
      '  enabled = false',
      '[continuous_queries]',
      '  log-enabled = false',
      '',
    ].join('\n'),
  )
  const proc: ChildProcess = spawn('influxd', ['run', '-config', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  proc.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000)
  })
  const url = `http://127.0.0.1:${http}`
  try {
    await waitFor(async () => (await fetch(`${url}/ping`)).status === 204, 20_000, 100)
  } catch (err) {
    proc.kill('SIGKILL')
    throw new Error(`influxd did not start: ${String(err)}\n${stderr}`)
  }
  const query = async (q: string, db?: string): Promise<InfluxResult> => {
    const params = new URLSearchParams({ q, epoch: 'ms' })
    if (db) params.set('db', db)
    const res = await fetch(`${url}/query`, { method: 'POST', body: params })
    const body = (await res.json()) as { results?: InfluxResult[]; error?: string }
    if (body.error) return { statement_id: 0, error: body.error }
    return body.results?.[0] ?? { statement_id: 0, error: `no result (HTTP ${res.status})` }
  }
  return {
    url,
    query,
    async write(lines, db) {
      const res = await fetch(`${url}/write?db=${encodeURIComponent(db)}&precision=ms`, { method: 'POST', body: lines })
      if (res.status !== 204) throw new Error(`write: HTTP ${res.status} ${await res.text()}`)
    },
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r))
        proc.kill('SIGTERM')
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
        if (proc.exitCode === null) proc.kill('SIGKILL')
      }
      dir.remove()
    },
  }
}
