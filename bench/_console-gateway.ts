// Child process for bench/console.ts: the whole gateway with its console (SQLite store, no
// vision), so that the browsers and the bench's own clients do not share its event loop.
//   node --import tsx bench/_console-gateway.ts <dataDir> <logFile> <stationsFile> <rulesFile> <adminToken>
// Sends {ports}; on {cmd:'exit'} closes and exits.
import { createWriteStream } from 'node:fs'
import Value from 'typebox/value'
import { startGateway } from '../gateway/app.ts'
import { ConfigSchema, type GatewayConfig } from '../gateway/config/schema.ts'

const [dataDir, logFile, stationsFile, rulesFile, adminToken] = process.argv.slice(2)
const config = Value.Default(ConfigSchema, {
  server: { dataDir, logLevel: 'warn' },
  http: { host: '127.0.0.1', port: 0 },
  mqtt: { host: '127.0.0.1', port: 0, wsPort: 0 },
  auth: { adminToken },
  ingest: { stationsFile },
  alerts: { rulesFile },
  vision: { enabled: false },
}) as GatewayConfig

const gw = await startGateway({ config, notice: () => {}, logDestination: createWriteStream(logFile!) })
process.send!({ ports: gw.ports })
process.on('message', async (msg: { cmd?: string }) => {
  if (msg.cmd === 'exit') {
    await gw.close()
    process.exit(0)
  }
})
