import { CliError } from '../errors.ts'
import type { Command } from 'commander'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { startFlags } from './start.ts'

// `iocgw demo`: the gateway plus a simulated field (gateway/demo/field.ts, scenario.ts).
export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'run the gateway with a simulated field: a flood on the Hương and Bồ rivers (Kim Long at level II within a minute), rain, air quality, two cameras',
    )
    .option('--speed <n>', 'scenario seconds per real second (1 to 20)', '1')
    .option('--seed <n>', 'random seed', '1')
    .option('--duration <s>', 'stop after this many seconds (default: run until Ctrl-C)')
    .option('--data-dir <dir>', 'data directory (default: a new temp dir, removed when the demo ends)')
    .option('--http-port <port>', 'HTTP API port')
    .option('--mqtt-port <port>', 'MQTT port')
    .option('--mqtt-ws-port <port>', 'MQTT WebSocket port')
    .option('--models-dir <dir>', 'model files directory (IOC_MODELS_DIR)')
    .option('--open', 'open the console in the default browser (xdg-open)')
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      const speed = Number(opts.speed)
      const seed = Number(opts.seed)
      const duration = opts.duration === undefined ? undefined : Number(opts.duration)
      // The string options, for the config flags; --open is the one boolean.
      const given = Object.fromEntries(Object.entries(opts).filter((e): e is [string, string] => typeof e[1] === 'string'))
      const dataDir = given.dataDir
      if (!Number.isFinite(speed) || speed < 1 || speed > 20)
        throw new CliError(`--speed must be a number from 1 to 20, not "${opts.speed}"`)
      if (!Number.isInteger(seed)) throw new CliError(`--seed must be a whole number, not "${opts.seed}"`)
      if (duration !== undefined && !(duration > 0 && Number.isFinite(duration)))
        throw new CliError(`--duration must be a positive number of seconds, not "${opts.duration}"`)
      const { demoDataDir, startField } = await import('../../demo/field.ts')
      const { RISE_S } = await import('../../demo/scenario.ts')
      const { createDemoOfficer } = await import('../../demo/officer.ts')
      const { DEFAULT_DIST } = await import('../../console/plugin.ts')
      const say = (l: string) => process.stdout.write(`${l}\n`)
      const data = demoDataDir(dataDir)
      // The temporary data directory goes with the process however it ends (signal, --duration,
      // a failed start); a directory the user named is left as it is.
      let removed = false
      const removeData = () => {
        if (!data.temporary || removed) return
        removed = true
        try {
          rmSync(data.path, { recursive: true, force: true })
        } catch {
          /* exiting anyway */
        }
      }
      process.on('exit', removeData)

      const token = process.env.IOC_ADMIN_TOKEN ?? randomBytes(24).toString('hex')
      process.env.IOC_ADMIN_TOKEN = token
      const { loadConfig } = await import('../../config/load.ts')
      const config = loadConfig({
        flags: { ...startFlags(given), 'server.dataDir': data.path, 'server.logLevel': process.env.IOC_LOG_LEVEL ?? 'warn' },
      })
      const { startGateway } = await import('../../app.ts')
      const gw = await startGateway({ config }).catch((err: unknown) => {
        removeData()
        throw err
      })
      const api = `http://127.0.0.1:${gw.ports.http}`
      const field = await startField({
        apiUrl: api,
        token,
        mqttUrl: `mqtt://127.0.0.1:${gw.ports.mqtt}`,
        speed,
        seed,
        modelsDir: config.models.dir,
        say,
      }).catch(async (err: unknown) => {
        await gw.close().catch(() => undefined)
        removeData()
        throw err
      })
      const officer = await createDemoOfficer(api, token).catch(async (err: unknown) => {
        await field.close().catch(() => undefined)
        await gw.close().catch(() => undefined)
        removeData()
        throw err
      })
      say(
        `demo: simulated field running since ${new Date(field.startedAt).toISOString()} (speed ${speed}x, seed ${seed}); admin token: ${token}`,
      )
      say(
        `demo: Kim Long rises through level I (1.00 m) to level II (2.00 m) in about ${Math.round(RISE_S / speed)} s; the alert opens at I and is raised to II`,
      )
      // The console first: it is what a visitor opens. The password is drawn at this start and
      // printed here only (officer.ts); the registry keeps its hash.
      const consoleUrl = `${api}/`
      const built = existsSync(join(DEFAULT_DIST, 'index.html'))
      say(
        built
          ? `  console    ${consoleUrl}`
          : `  console    not built: run "npm run build:console" (npm install runs it) and start the demo again`,
      )
      say(`  login      ${officer.name} / ${officer.password}   (officer: acknowledges and resolves alerts; a new password each start)`)
      say(`  API        ${api}/api/v1`)
      say(`  docs       ${api}/docs`)
      say(`  events     curl -N -H 'Authorization: Bearer ${token}' ${api}/api/v1/events`)
      say(`  readings   curl -H 'Authorization: Bearer ${token}' '${api}/api/v1/devices/demo-wl-kim-long/readings?metric=water_level'`)
      say(`  latest     curl -H 'Authorization: Bearer ${token}' '${api}/api/v1/readings/latest?kind=water_level'`)
      say(`  alerts     curl -H 'Authorization: Bearer ${token}' '${api}/api/v1/alerts?state=open'`)
      say(`  snapshot   curl -H 'Authorization: Bearer ${token}' -o cam1.jpg ${api}/api/v1/cameras/demo-cam-1/snapshot`)
      say(`  detections curl -H 'Authorization: Bearer ${token}' '${api}/api/v1/cameras/demo-cam-1/detections'`)
      if (data.temporary) say(`demo: data in ${data.path} (removed when the demo ends)`)
      if (opts.open && built) openInBrowser(consoleUrl, say)
      say(`demo: ready (${duration === undefined ? 'Ctrl-C stops' : `stops after ${duration} s; Ctrl-C stops earlier`})`)
      let stopping = false
      const stop = (why: string) => {
        if (stopping) process.exit(1)
        stopping = true
        say(`demo: ${why}: stopping`)
        field
          .close()
          .then(() => gw.close())
          .then(
            () => {
              removeData()
              process.exit(0)
            },
            (err: unknown) => {
              process.stderr.write(`demo: error while stopping: ${(err as Error).message}\n`)
              process.exit(1)
            },
          )
      }
      process.on('SIGINT', () => stop('SIGINT'))
      process.on('SIGTERM', () => stop('SIGTERM'))
      if (duration !== undefined) setTimeout(() => stop(`${duration} s elapsed`), duration * 1000).unref()
    })
}

/** xdg-open (freedesktop.org) in the background; without a desktop it only says so. */
function openInBrowser(url: string, say: (line: string) => void): void {
  const child = spawn('xdg-open', [url], { detached: true, stdio: 'ignore' })
  child.on('error', (err) => say(`demo: could not open a browser (${err.message}); open ${url} by hand`))
  child.unref()
}
