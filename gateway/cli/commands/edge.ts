import type { Command } from 'commander'

/** `iocgw edge --config FILE`: the edge agent (sensor drivers, disk queue, MQTT publisher). */
export function register(program: Command): void {
  program
    .command('edge')
    .description('run the edge agent: read sensors, keep every reading on disk, forward it to the gateway over MQTT')
    .requiredOption('-c, --config <file>', 'agent configuration (see config/edge.example.yaml)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .action(async (opts: { config: string; logLevel?: string }) => {
      const { runEdge } = await import('../../../edge/main.ts')
      await runEdge(opts.config, opts.logLevel ? { logLevel: opts.logLevel } : {})
    })
}
