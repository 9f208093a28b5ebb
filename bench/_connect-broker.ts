// Child process for bench/connect.ts: one broker, so that its RSS is its own.
//   node --import tsx bench/_connect-broker.ts gateway <dataDir>   the gateway broker (SQLite registry)
//   node --import tsx bench/_connect-broker.ts aedes               bare aedes, no authentication
// Talks to the parent over IPC: sends {ports}, answers {cmd:'rss'} with {rss, connected}.
import { createServer } from 'node:net'
import { Aedes } from 'aedes'
import { createBroker } from '../gateway/broker/index.ts'
import { createLogger } from '../gateway/log/logger.ts'
import { Metrics } from '../gateway/metrics/registry.ts'
import { openRegistry } from '../gateway/registry/sqlite.ts'

const [mode, dataDir] = process.argv.slice(2)
const gc = (globalThis as { gc?: () => void }).gc
let connected: () => number

if (mode === 'gateway') {
  const registry = openRegistry(dataDir!)
  const broker = await createBroker({
    registry,
    metrics: new Metrics({ defaults: false }),
    logger: createLogger('error'),
    routes: {},
    // Every load process connects from 127.0.0.1: the per-address cap (500 by default, for NAT'd
    // field routers, docs/operations.md) would refuse all but the first 500 devices.
    config: { host: '127.0.0.1', port: 0, wsPort: 0, wsPath: '/mqtt', maxConnectionsPerAddress: 1_000_000 },
  })
  const ports = await broker.listen()
  connected = () => broker.connectedCount()
  process.send!({ ports: { mqtt: ports.mqtt } })
} else {
  const aedes = await Aedes.createBroker()
  const server = createServer((s) => aedes.handle(s))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  connected = () => aedes.connectedClients
  process.send!({ ports: { mqtt: (server.address() as { port: number }).port } })
}

process.on('message', (msg: { cmd: string }) => {
  if (msg.cmd === 'rss') {
    gc?.()
    process.send!({ rss: process.memoryUsage().rss, connected: connected() })
  }
})
process.on('disconnect', () => process.exit(0))
