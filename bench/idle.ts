// `npm run bench -- idle [--settle S]`
// RSS of an idle gateway (`iocgw start` as an operator runs it, with the launcher's node flags, no
// device connected, no camera, yesterday's daily report already made): SQLite and InfluxDB time-series store, with the model files and
// without them (vision off). Measured S seconds (default 15) after it says where it listens, then
// the heap figures from its own /metrics. Goal (issue "Leaner"): <= 150 MB RSS without cameras.
// Needs influxd for the InfluxDB rows (Debian: apt-get install influxdb); skipped without it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DAY_MS, localDate, localDayStart } from '../gateway/reports/period.ts'
import { startInfluxd, requireInfluxd } from '../test/support/influxd.ts'
import { spawnGateway, stopGateway } from '../test/support/gateway-process.ts'
import { tempDir } from '../test/support/services.ts'
import { positiveArg } from './_args.ts'

const ADMIN = 'bench-idle-admin-token-0123456789'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function status(pid: number, field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : Number.NaN
}

async function measure(env: Record<string, string>, settleMs: number) {
  const dir = tempDir('iocgw-bench-idle-')
  // A gateway that has been running has yesterday's daily report already; a fresh data directory
  // would build it (and its PDF) at start, which is not idling (docs/reports.md).
  mkdirSync(join(dir.path, 'reports'))
  writeFileSync(join(dir.path, 'reports', `${localDate(localDayStart(Date.now()) - DAY_MS)}.json`), '{}')
  const gw = await spawnGateway({
    dataDir: dir.path,
    // As `npm start` and the iocgw launcher run it (docs/operations.md, young generation).
    env: { IOC_ADMIN_TOKEN: ADMIN, IOC_LOG_LEVEL: 'error', NODE_OPTIONS: '--max-semi-space-size=64', ...env },
  })
  try {
    await sleep(settleMs)
    const pid = gw.child.pid!
    const rss = status(pid, 'VmRSS')
    const metrics = await (await fetch(`${gw.apiUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text()
    const metric = (name: string) => Number(new RegExp(`^${name} ([0-9.e+]+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN)
    const threads = Number(/Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
    const maps = readFileSync(`/proc/${pid}/maps`, 'utf8')
    return {
      rss,
      heapUsed: metric('iocgw_nodejs_heap_size_used_bytes'),
      heapTotal: metric('iocgw_nodejs_heap_size_total_bytes'),
      external: metric('iocgw_nodejs_external_memory_bytes'),
      threads,
      onnx: maps.includes('libonnxruntime'),
      vips: maps.includes('libvips'),
    }
  } finally {
    await stopGateway(gw)
    dir.remove()
  }
}

export async function main(args: string[]): Promise<void> {
  const settleMs = positiveArg(args, 'settle', 15) * 1000
  const noModels = tempDir('iocgw-bench-nomodels-')
  const off = { IOC_MODELS_DIR: noModels.path, IOC_MODELS_FALLBACKS: '0' }
  const influx = requireInfluxd() ? await startInfluxd() : null
  if (!influx) console.log('influxd not installed: InfluxDB rows skipped')
  const rows: Array<[string, Record<string, string>]> = [
    ['SQLite, models present', {}],
    ['SQLite, no model files', off],
    ...(influx
      ? ([
          ['InfluxDB, models present', { IOC_INFLUX_URL: influx.urlFor('iocgw_bench_idle') }],
          ['InfluxDB, no model files', { IOC_INFLUX_URL: influx.urlFor('iocgw_bench_idle'), ...off }],
        ] as Array<[string, Record<string, string>]>)
      : []),
  ]
  const mb = (b: number) => (b / 1024 / 1024).toFixed(1)
  try {
    console.log(`idle gateway, RSS ${settleMs / 1000} s after start (MB)`)
    console.log('store / models                 RSS   heap used  heap total  external  threads  onnxruntime  libvips')
    for (const [name, env] of rows) {
      const r = await measure(env, settleMs)
      console.log(
        `${name.padEnd(28)}${mb(r.rss).padStart(7)}${mb(r.heapUsed).padStart(12)}${mb(r.heapTotal).padStart(12)}${mb(r.external).padStart(10)}${String(r.threads).padStart(9)}${(r.onnx ? 'loaded' : 'no').padStart(13)}${(r.vips ? 'loaded' : 'no').padStart(9)}`,
      )
    }
    console.log('goal <= 150 MB RSS without cameras')
  } finally {
    await influx?.remove()
    noModels.remove()
  }
}
