// `npm run bench -- exports [--rows 1000000]`: CSV export rate of the gateway (GET
// /api/v1/exports/readings.csv, InfluxDB store) against InfluxDB's own `influx -format csv` export
// of the same rows in the same run (bench/README.md "exports"). Needs influxd and the influx CLI
// (Debian: apt-get install influxdb influxdb-client).
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnGateway, stopGateway } from '../test/support/gateway-process.ts'
import { startInfluxd } from '../test/support/influxd.ts'
import { tempDir, waitFor } from '../test/support/services.ts'
import { arg } from './_args.ts'

const ADMIN = `iocgw_bench-${Math.random().toString(36).slice(2)}`

async function countLines(stream: NodeJS.ReadableStream | ReadableStream<Uint8Array>): Promise<number> {
  let n = 0
  for await (const chunk of stream as AsyncIterable<Uint8Array>) for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) n++
  return n
}

export async function main(args: string[]): Promise<void> {
  const rows = arg(args, 'rows', 1_000_000)
  const devices = 4
  const per = Math.ceil(rows / devices)
  const t0 = Math.floor((Date.now() - 30 * 86_400_000) / 1000) * 1000
  const dir = tempDir('iocgw-bench-exports-')
  const influxd = await startInfluxd()
  const cfg = join(dir.path, 'gateway.yaml')
  writeFileSync(cfg, 'vision:\n  enabled: false\n')
  const gw = await spawnGateway({
    dataDir: join(dir.path, 'data'),
    env: { IOC_CONFIG: cfg, IOC_ADMIN_TOKEN: ADMIN, IOC_INFLUX_URL: influxd.urlFor('ioc') },
  })
  try {
    for (let d = 0; d < devices; d++) {
      for (let s = 0; s < per; s += 50_000) {
        let body = ''
        for (let i = s; i < Math.min(per, s + 50_000); i++)
          body += `readings,device=wl-${d},kind=water_level,station=st-${d} water_level=${1 + (i % 500) / 100},seq=${i}i ${t0 + i * 1000}\n`
        const res = await fetch(`${influxd.url}/write?db=ioc&rp=raw&precision=ms`, { method: 'POST', body })
        if (res.status !== 204) throw new Error(`write: ${res.status} ${await res.text()}`)
      }
    }
    const total = per * devices
    await waitFor(
      async () => (await influxd.query('SELECT count(seq) FROM "raw"."readings"', 'ioc')).results[0]?.series?.[0]?.values[0]?.[1] === total,
      120_000,
      500,
    )
    const to = t0 + per * 1000

    // The reference: InfluxDB's own CLI, CSV to a pipe, the same rows.
    let started = performance.now()
    const cli = spawn(
      'influx',
      [
        '-host',
        '127.0.0.1',
        '-port',
        String(influxd.port),
        '-database',
        'ioc',
        '-format',
        'csv',
        '-precision',
        'rfc3339',
        '-execute',
        `SELECT * FROM "raw"."readings" WHERE time >= ${t0}ms AND time < ${to}ms`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    const cliLines = await countLines(cli.stdout)
    const cliS = (performance.now() - started) / 1000

    started = performance.now()
    const res = await fetch(`${gw.apiUrl}/api/v1/exports/readings.csv?from=${t0}&to=${to}`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    })
    const gwLines = await countLines(res.body!)
    const gwS = (performance.now() - started) / 1000

    const cliRate = (cliLines - 1) / cliS
    const gwRate = (gwLines - 1) / gwS
    console.log(`rows: ${total}`)
    console.log(`influx -format csv: ${cliLines - 1} rows in ${cliS.toFixed(1)} s = ${Math.round(cliRate)} rows/s`)
    console.log(`gateway export:     ${gwLines - 1} rows in ${gwS.toFixed(1)} s = ${Math.round(gwRate)} rows/s`)
    console.log(`ratio gateway/influx: ${(gwRate / cliRate).toFixed(2)}x (goal >= 0.5x)`)
  } finally {
    await stopGateway(gw)
    await influxd.remove()
    dir.remove()
  }
}
