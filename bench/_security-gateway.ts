// Child process for bench/security.ts: the whole gateway (SQLite store, no vision), so that its
// RSS and log are its own. GATEWAY_ROOT points at another checkout's root to measure older code.
//   node --import tsx bench/_security-gateway.ts <dataDir> <logFile>
// Sends {ports}; answers {cmd:'stats'} with {rss, metrics} (Prometheus text).
import { createWriteStream } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import Value from 'typebox/value'

const [dataDir, logFile] = process.argv.slice(2)
const root = resolve(process.env.GATEWAY_ROOT ?? '.')
const { startGateway } = (await import(pathToFileURL(`${root}/gateway/app.ts`).href)) as typeof import('../gateway/app.ts')
const { ConfigSchema } = (await import(
  pathToFileURL(`${root}/gateway/config/schema.ts`).href
)) as typeof import('../gateway/config/schema.ts')

const config = Value.Default(ConfigSchema, {
  server: { dataDir, logLevel: 'info' },
  http: { host: '127.0.0.1', port: 0 },
  mqtt: { host: '127.0.0.1', port: 0, wsPort: 0 },
  auth: { adminToken: 'bench-admin-token-0123456789' },
  vision: { enabled: false },
}) as import('../gateway/config/schema.ts').GatewayConfig

const gw = await startGateway({ config, notice: () => {}, logDestination: createWriteStream(logFile!) })
process.send!({ ports: gw.ports })
process.on('message', async (msg: { cmd?: string }) => {
  if (msg.cmd === 'stats') process.send!({ rss: process.memoryUsage().rss, metrics: await gw.metrics.text() })
  if (msg.cmd === 'exit') {
    await gw.close()
    process.exit(0)
  }
})
