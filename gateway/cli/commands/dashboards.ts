import type { Command } from 'commander'
import { CliError } from '../errors.ts'

// `iocgw dashboards build|push`: Grafana boards as code (dashboards/). The board code and the
// foundation SDK load inside the actions so that other commands do not pay for them.

const DEFAULT_FOLDER = 'IOC Huế'

export function register(program: Command): void {
  const group = program.command('dashboards').description('Grafana boards as code: build the JSON, push it to a Grafana')

  group
    .command('build')
    .description('write every board as Grafana dashboard JSON (the folder Grafana provisioning reads)')
    .option('--out <dir>', 'output folder (default: dashboards/build of this checkout)')
    .option(
      '--stations <file>',
      'station alarm levels (default: config/stations.yaml of this checkout; the built-in levels of Decision 05/2020 when absent)',
    )
    .option('--json', 'print the result as JSON')
    .action(async (opts: { out?: string; stations?: string; json?: boolean }) => {
      const { writeBoards } = await import('../../../dashboards/build.ts')
      let result: ReturnType<typeof writeBoards>
      try {
        result = writeBoards(opts.out, opts.stations ? { stationsFile: opts.stations } : {})
      } catch (err) {
        throw new CliError(`dashboards build: ${(err as Error).message}`)
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ stations: result.stationsSource, boards: result.written }, null, 2)}\n`)
        return
      }
      process.stdout.write(`Alarm levels from ${result.stationsSource}\n`)
      for (const b of result.written)
        process.stdout.write(`  ${b.uid.padEnd(20)} ${String(b.panels).padStart(3)} panels  ${b.path}  (${b.title})\n`)
    })

  group
    .command('push')
    .description('create or update the boards in a Grafana folder through its HTTP API (idempotent)')
    .requiredOption('--grafana-url <url>', 'Grafana base URL, e.g. http://localhost:3000')
    .option('--token <token>', 'Grafana service account token (default: GRAFANA_TOKEN)')
    .option('--folder <name>', 'folder title; created when missing', DEFAULT_FOLDER)
    .option('--datasource-uid <uid>', 'uid of the InfluxDB data source in that Grafana (default: ioc-influxdb, as provisioned)')
    .option('--overwrite', "send Grafana's overwrite flag: skip its version and same-title checks (a same-title board keeps its own uid)")
    .option('--stations <file>', 'station alarm levels (default: config/stations.yaml of this checkout)')
    .option('--json', 'print the result as JSON')
    .action(
      async (opts: {
        grafanaUrl: string
        token?: string
        folder: string
        datasourceUid?: string
        overwrite?: boolean
        stations?: string
        json?: boolean
      }) => {
        const token = opts.token ?? process.env.GRAFANA_TOKEN
        if (!token)
          throw new CliError(
            'dashboards push: --token (or GRAFANA_TOKEN) is required: a Grafana service account token with the Editor role',
          )
        if (!/^https?:\/\/[^/]/.test(opts.grafanaUrl))
          throw new CliError(`dashboards push: --grafana-url must be an http:// or https:// URL (got "${opts.grafanaUrl}")`)
        const { buildBoards } = await import('../../../dashboards/index.ts')
        const { GrafanaError, pushBoards } = await import('../../../dashboards/push.ts')
        let report: Awaited<ReturnType<typeof pushBoards>>
        try {
          const { boards } = buildBoards(opts.stations ? { stationsFile: opts.stations } : {})
          report = await pushBoards(boards, {
            grafanaUrl: opts.grafanaUrl,
            token,
            folder: opts.folder,
            overwrite: opts.overwrite === true,
            ...(opts.datasourceUid ? { datasourceUid: opts.datasourceUid } : {}),
          })
        } catch (err) {
          if (err instanceof GrafanaError) throw new CliError(err.message)
          throw new CliError(`dashboards push: ${(err as Error).message}`)
        }
        if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
        else {
          process.stdout.write(`Folder "${report.folder.title}" (${report.folder.uid})${report.folder.created ? ' created' : ''}\n`)
          if (!report.datasource.found) {
            process.stdout.write(
              `Warning: data source ${report.datasource.uid} not found in this Grafana; provision dashboards/provisioning/datasources/influxdb.yaml or pass --datasource-uid.\n`,
            )
          }
          for (const b of report.boards) {
            const v = b.version === undefined ? '' : ` v${b.version}`
            process.stdout.write(`  ${b.outcome.padEnd(9)} ${b.uid}${v}  ${b.title}${b.url ? `  ${b.url}` : ''}\n`)
            if (b.error) process.stdout.write(`            ${b.error}\n`)
          }
        }
        const failed = report.boards.filter((b) => b.outcome === 'failed')
        if (failed.length) throw new CliError(`${failed.length} board(s) not saved: ${failed.map((b) => b.uid).join(', ')}`)
      },
    )
}
