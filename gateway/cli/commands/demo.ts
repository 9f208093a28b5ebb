import { CliError } from '../errors.ts'
import type { Command } from 'commander'
import { randomBytes } from 'node:crypto'
import { startFlags } from './start.ts'

// `iocgw demo`: the gateway plus a simulated field (gateway/demo/field.ts).
export function register(program: Command): void {
  program
    .command('demo')
    .description('run the gateway with a simulated field: a flood on the Hương and Bồ rivers, rain, air quality, two cameras')
    .option('--speed <n>', 'simulated seconds per real second', '60')
    .option('--seed <n>', 'random seed', '1')
    .option('--data-dir <dir>', 'data directory (default: a new temp dir)')
    .option('--http-port <port>', 'HTTP API port')
    .option('--mqtt-port <port>', 'MQTT port')
    .option('--mqtt-ws-port <port>', 'MQTT WebSocket port')
    .option('--models-dir <dir>', 'model files directory (IOC_MODELS_DIR)')
    .action(async (opts: Record<string, string | undefined>) => {
      const { demoDataDir, startField } = await import('../../demo/field.ts')
      const speed = Number(opts.speed)
      const seed = Number(opts.seed)
      if (!(speed > 0) || !Number.isFinite(speed)) throw new CliError(`--speed must be a positive number, not "${opts.speed}"`)
      if (!Number.isInteger(seed)) throw new CliError(`--seed must be a whole number, not "${opts.seed}"`)
      const token = process.env.IOC_ADMIN_TOKEN ?? randomBytes(24).toString('hex')
      process.env.IOC_ADMIN_TOKEN = token
      const { loadConfig } = await import('../../config/load.ts')
      const config = loadConfig({ flags: { ...startFlags(opts), 'server.dataDir': demoDataDir(opts.dataDir), 'server.logLevel': process.env.IOC_LOG_LEVEL ?? 'warn' } })
      const { startGateway } = await import('../../app.ts')
      const gw = await startGateway({ config })
      const api = `http://127.0.0.1:${gw.ports.http}`
      const field = await startField({ apiUrl: api, token, mqttUrl: `mqtt://127.0.0.1:${gw.ports.mqtt}`, speed, seed, modelsDir: config.models.dir })
      const say = (l: string) => process.stdout.write(`${l}\n`)
      say(`demo: simulated field running (speed ${opts.speed}x, seed ${opts.seed}); admin token: ${token}`)
      say(`  API        ${api}/api/v1`)
      say(`  docs       ${api}/docs`)
      say(`  events     curl -N -H 'Authorization: Bearer ${token}' ${api}/api/v1/events`)
      say(`  readings   curl -H 'Authorization: Bearer ${token}' '${api}/api/v1/devices/demo-wl-kim-long/readings?metric=water_level'`)
      say(`  latest     curl -H 'Authorization: Bearer ${token}' '${api}/api/v1/readings/latest?kind=water_level'`)
      say(`  alerts     curl -H 'Authorization: Bearer ${token}' '${api}/api/v1/alerts?state=open'`)
      say(`  snapshot   curl -H 'Authorization: Bearer ${token}' -o cam1.jpg ${api}/api/v1/cameras/demo-cam-1/snapshot`)
      say('demo: ready (Ctrl-C stops)')
      let stopping = false
      const stop = () => {
        if (stopping) process.exit(1)
        stopping = true
        field.close().then(() => gw.close()).then(() => process.exit(0), () => process.exit(1))
      }
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
    })
}
