import { writeFileSync } from 'node:fs'
import type { Command } from 'commander'
import { callApiBytes } from '../client.ts'
import { CliError } from '../errors.ts'

// `iocgw report`: a situation report from the running gateway (GET /api/v1/reports, docs/reports.md).

const FORMATS = ['json', 'csv', 'pdf'] as const

export function register(program: Command): void {
  program
    .command('report')
    .description('situation report for a period and a place (water levels, rainfall, VN_AQI, cameras, alerts)')
    .requiredOption('--from <time>', 'start: a date YYYY-MM-DD (Vietnam time) or ISO 8601 with a zone')
    .option('--to <time>', 'end: a date (that whole day included) or ISO 8601 (exclusive); default one day after --from')
    .option('--district <name>', 'only this district')
    .option('--station <id>', 'only this station, e.g. kim-long')
    .option('--lang <lang>', 'vi or en', 'vi')
    .option('--format <format>', 'json, csv or pdf', 'json')
    .option('-o, --output <file>', 'write to this file (default: stdout; pdf needs a file)')
    .action(
      async (opts: { from: string; to?: string; district?: string; station?: string; lang: string; format: string; output?: string }) => {
        if (!(FORMATS as readonly string[]).includes(opts.format))
          throw new CliError(`report: --format must be one of ${FORMATS.join(', ')} (got "${opts.format}")`)
        if (opts.lang !== 'vi' && opts.lang !== 'en') throw new CliError(`report: --lang must be vi or en (got "${opts.lang}")`)
        if (opts.format === 'pdf' && !opts.output) throw new CliError('report: --format pdf needs -o FILE')
        const q = new URLSearchParams({ from: opts.from, lang: opts.lang, format: opts.format })
        if (opts.to) q.set('to', opts.to)
        if (opts.district) q.set('district', opts.district)
        if (opts.station) q.set('station', opts.station)
        const { bytes } = await callApiBytes('GET', `/reports?${q}`)
        // JSON pretty-printed, the rest byte for byte.
        const out = opts.format === 'json' ? Buffer.from(`${JSON.stringify(JSON.parse(bytes.toString('utf8')), null, 2)}\n`) : bytes
        if (opts.output) {
          writeFileSync(opts.output, out)
          process.stderr.write(`report written to ${opts.output} (${out.length} bytes)\n`)
        } else process.stdout.write(out)
      },
    )
}
