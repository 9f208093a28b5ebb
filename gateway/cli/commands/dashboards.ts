import type { Command } from 'commander'
import { DEFAULT_OUT_DIR, writeBoards } from '../../../dashboards/build.ts'
import { buildBoards } from '../../../dashboards/index.ts'
import { DEFAULT_FOLDER, GrafanaError, pushBoards } from '../../../dashboards/push.ts'
import { DEFAULT_STATIONS_FILE } from '../../../dashboards/lib/stations.ts'

// `iocgw dashboards build|push`: Grafana boards as code (dashboards/).

function fail(message: string): never {
  process.stderr.write(`iocgw dashboards: ${message}\n`)
  process.exit(1)
}

export function register(program: Command): void {
  const group = program.command('dashboards').description('Grafana boards as code: build the JSON, push it to a Grafana')

  group
    .command('build')
    .description('write every board as Grafana dashboard JSON')
    .option('--out <dir>', 'output folder (mounted by docker-compose for provisioning)', DEFAULT_OUT_DIR)
    .option('--stations <file>', 'station alarm levels (falls back to the built-in levels when absent)', DEFAULT_STATIONS_FILE)
    .option('--json', 'print the result as JSON')
    .action((opts: { out: string; stations: string; json?: boolean }) => {
      try {
        const { written, stationsSource } = writeBoards(opts.out, { stationsFile: opts.stations })
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ stations: stationsSource, boards: written }, null, 2)}\n`)
          return
        }
        process.stdout.write(`Alarm levels from ${stationsSource}\n`)
        for (const b of written) process.stdout.write(`  ${b.uid.padEnd(20)} ${String(b.panels).padStart(3)} panels  ${b.path}  (${b.title})\n`)
      } catch (err) {
        fail((err as Error).message)
      }
    })

  group
    .command('push')
    .description('create or update the boards in a Grafana folder through its HTTP API')
    .requiredOption('--grafana-url <url>', 'Grafana base URL, e.g. http://localhost:3000')
    .option('--token <token>', 'Grafana service account token (or GRAFANA_TOKEN)')
    .option('--folder <name>', 'folder title; created when missing', DEFAULT_FOLDER)
    .option('--datasource-uid <uid>', 'uid of the InfluxDB data source in that Grafana')
    .option('--stations <file>', 'station alarm levels', DEFAULT_STATIONS_FILE)
    .option('--json', 'print the result as JSON')
    .action(async (opts: { grafanaUrl: string; token?: string; folder: string; datasourceUid?: string; stations: string; json?: boolean }) => {
      const token = opts.token ?? process.env.GRAFANA_TOKEN
      if (!token) fail('--token (or GRAFANA_TOKEN) is required: a Grafana service account token with the Editor role')
      if (!/^https?:\/\//.test(opts.grafanaUrl)) fail(`--grafana-url must start with http:// or https:// (got "${opts.grafanaUrl}")`)
      try {
        const { boards } = buildBoards({ stationsFile: opts.stations })
        const report = await pushBoards(boards, {
          grafanaUrl: opts.grafanaUrl,
          token,
          folder: opts.folder,
          ...(opts.datasourceUid ? { datasourceUid: opts.datasourceUid } : {}),
        })
        if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
        else {
          process.stdout.write(`Folder "${report.folder.title}" (${report.folder.uid})${report.folder.created ? ' created' : ''}\n`)
          if (!report.datasource.found) {
            process.stdout.write(`Warning: data source ${report.datasource.uid} not found in this Grafana; provision dashboards/provisioning/datasources/influxdb.yaml or pass --datasource-uid.\n`)
          }
          for (const b of report.boards) {
            const v = b.version === undefined ? '' : ` v${b.version}`
            process.stdout.write(`  ${b.outcome.padEnd(9)} ${b.uid}${v}  ${b.title}${b.url ? `  ${b.url}` : ''}${b.error ? `\n            ${b.error}` : ''}\n`)
          }
        }
        if (report.boards.some((b) => b.outcome === 'failed')) process.exitCode = 1
      } catch (err) {
        if (err instanceof GrafanaError) fail(err.message)
        fail((err as Error).message)
      }
    })
}
