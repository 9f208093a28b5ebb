import type { Command } from 'commander'

// `iocgw start`: flags map onto config keys and win over file and environment (README.md "Configuration").
const FLAG_KEYS: ReadonlyArray<[flag: string, attr: string, key: string, help: string]> = [
  ['--data-dir <dir>', 'dataDir', 'server.dataDir', 'data directory (IOC_DATA_DIR, default ./data)'],
  ['--http-port <port>', 'httpPort', 'http.port', 'HTTP API port (IOC_HTTP_PORT, default 8080)'],
  ['--mqtt-port <port>', 'mqttPort', 'mqtt.port', 'MQTT port (IOC_MQTT_PORT, default 1883)'],
  ['--mqtt-ws-port <port>', 'mqttWsPort', 'mqtt.wsPort', 'MQTT over WebSocket port (IOC_MQTT_WS_PORT, default 8083)'],
  ['--influx-url <url>', 'influxUrl', 'influx.url', 'InfluxDB URL with database, e.g. http://127.0.0.1:8086/ioc (IOC_INFLUX_URL)'],
  ['--log-level <level>', 'logLevel', 'server.logLevel', 'fatal, error, warn, info, debug, trace or silent (IOC_LOG_LEVEL)'],
  ['--models-dir <dir>', 'modelsDir', 'models.dir', 'model files directory (IOC_MODELS_DIR)'],
]

/** Dotted config keys from the parsed options (only the flags that were given). */
export function startFlags(opts: Record<string, string | undefined>): Record<string, string> {
  const flags: Record<string, string> = {}
  for (const [, attr, key] of FLAG_KEYS) {
    const v = opts[attr]
    if (v !== undefined) flags[key] = v
  }
  return flags
}

export function register(program: Command): void {
  const cmd = program
    .command('start')
    .description('run the gateway: MQTT broker, ingest, stores, alerts and the HTTP API')
    .option('--config <file>', 'YAML configuration file (IOC_CONFIG, default config/gateway.yaml when present)')
  for (const [flag, , , help] of FLAG_KEYS) cmd.option(flag, help)
  cmd.action(async (opts: Record<string, string | undefined>) => {
    // Loaded here, not at the top: client commands must not pay for the whole gateway.
    const { loadConfig } = await import('../../config/load.ts')
    const config = loadConfig({ file: opts.config, flags: startFlags(opts) })
    const { startGateway } = await import('../../app.ts')
    const gateway = await startGateway({ config })

    let stopping = false
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`iocgw: ${signal} again, exiting without waiting\n`)
        process.exit(1)
      }
      stopping = true
      process.stderr.write(`iocgw: ${signal}: stopping (draining connections, closing stores)\n`)
      gateway.close().then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`iocgw: error while stopping: ${(err as Error).message}\n`)
          process.exit(1)
        },
      )
    }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
  })
}
