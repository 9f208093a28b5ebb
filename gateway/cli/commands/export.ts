import { createWriteStream } from 'node:fs'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { Argument, type Command } from 'commander'
import { CliError } from '../errors.ts'
import { apiBaseUrl, print } from '../client.ts'

// `iocgw export readings|detections|alerts`: GET /api/v1/exports/<what>.csv (docs/api.md
// "Exports") streamed to a file or stdout, never held in memory.

interface ExportOptions {
  from?: string
  to?: string
  station?: string
  device?: string
  kind?: string
  camera?: string
  zone?: string
  output?: string
}

export function register(program: Command): void {
  program
    .command('export')
    .description('export a period as CSV (viewer token or better)')
    .addArgument(new Argument('<what>', 'what to export').choices(['readings', 'detections', 'alerts']))
    .option('--from <time>', 'start, inclusive: ISO 8601 with a zone, a date (UTC) or epoch ms (default: 24 h before --to)')
    .option('--to <time>', 'end, exclusive (default: now)')
    .option('--station <id>', 'one station')
    .option('--device <id>', 'one device (readings, alerts)')
    .option('--kind <kind>', 'device kind (readings) or alert kind (alerts)')
    .option('--camera <id>', 'one camera (detections)')
    .option('--zone <id>', 'one zone (detections)')
    .option('-o, --output <file>', 'write to this file (default: stdout)')
    .action(async (what: string, o: ExportOptions) => {
      const token = process.env.IOC_TOKEN
      if (!token) throw new CliError('IOC_TOKEN is not set: export IOC_TOKEN=<token>')
      const q = new URLSearchParams()
      for (const k of ['from', 'to', 'station', 'device', 'kind', 'camera', 'zone'] as const) if (o[k] !== undefined) q.set(k, o[k]!)
      const base = apiBaseUrl()
      let res: Response
      try {
        res = await fetch(`${base}/api/v1/exports/${what}.csv?${q}`, { headers: { authorization: `Bearer ${token}` } })
      } catch (err) {
        throw new CliError(
          `cannot reach the gateway API at ${base}: is it running? (${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message})`,
        )
      }
      if (!res.ok || !res.body) {
        const text = await res.text()
        let msg = text.slice(0, 300)
        try {
          msg = (JSON.parse(text) as { message?: string }).message ?? msg
        } catch {
          /* not JSON */
        }
        throw new CliError(`${res.status}: ${msg}`)
      }
      let lines = 0
      let last = 0
      const count = new Writable({
        write(chunk: Buffer, _e, cb) {
          for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++
          if (chunk.length > 0) last = chunk[chunk.length - 1]!
          cb()
        },
      })
      const body = Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>)
      if (o.output) {
        body.pipe(count)
        await pipeline(body, createWriteStream(o.output))
        // A cut answer (a failure after the first row) does not end with CRLF.
        if (last !== 10) throw new CliError(`the export was cut short; ${o.output} is incomplete`)
        print(`${Math.max(0, lines - 1)} rows written to ${o.output}`)
      } else {
        await pipeline(body, process.stdout)
      }
    })
}
