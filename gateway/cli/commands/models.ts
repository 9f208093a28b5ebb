import type { Command } from 'commander'
import { print, printJson } from '../client.ts'
import { CliError } from '../errors.ts'
import { table } from '../table.ts'

export function register(program: Command): void {
  const models = program.command('models').description('vision model files (weights are never in the repository)')

  models
    .command('fetch')
    .description('download the model files and sample photos the manifests list, check each sha256, skip those already present')
    .option('--dir <dir>', 'where to put them (default: the project models/ folder; samples go to <dir>/samples)')
    .option('--only <name...>', 'only these: a model id, `samples`, or a sample file name')
    .option('--from <url>', "a mirror with the layout of models/ instead of each file's source URL (default IOC_MODELS_BASE_URL)")
    .option('--json', 'print the result as JSON')
    .action(async (o: { dir?: string; only?: string[]; from?: string; json?: boolean }) => {
      const { fetchModels } = await import('../../../models/fetch.ts')
      if (o.from !== undefined && !/^https?:\/\//.test(o.from)) throw new CliError('--from must be an http:// or https:// URL')
      let results
      try {
        results = await fetchModels({ dir: o.dir, only: o.only, from: o.from, progress: o.json ? undefined : print })
      } catch (err) {
        throw new CliError((err as Error).message)
      }
      if (o.json) printJson(results)
      const bad = results.filter((r) => r.status === 'failed')
      if (bad.length) throw new CliError(`${bad.length} of ${results.length} file(s) not fetched: ${bad.map((r) => r.name).join(', ')}`)
      if (!o.json) print(`${results.length} file(s) in place, sha256 checked`)
    })

  models
    .command('verify')
    .description('find each model (IOC_MODELS_DIR, models/, ../shared/models), check its sha256, run one inference and time it')
    .option('--models-dir <dir>', 'look here first (default IOC_MODELS_DIR)')
    .option('--runs <n>', 'timed runs after the first', (v) => Number.parseInt(v, 10), 5)
    .option('--threads <n>', 'onnxruntime intra-op threads', (v) => Number.parseInt(v, 10), 2)
    .option('--no-pool', 'skip the worker-pool check')
    .option('--json', 'print the result as JSON')
    .action(async (o: { modelsDir?: string; runs: number; threads: number; pool: boolean; json?: boolean }) => {
      if (!Number.isInteger(o.runs) || o.runs < 1 || o.runs > 1000) throw new CliError('--runs must be an integer from 1 to 1000')
      if (!Number.isInteger(o.threads) || o.threads < 1 || o.threads > 64) throw new CliError('--threads must be an integer from 1 to 64')
      const { verifyModels, verifyPool, searchDirs } = await import('../../../models/verify.ts')
      const checks = await verifyModels({ modelsDir: o.modelsDir, runs: o.runs, threads: o.threads })
      const pool = o.pool ? await verifyPool(o.modelsDir) : null
      if (o.json) printJson({ searched: searchDirs(o.modelsDir), models: checks, pool })
      else {
        print(`searched: ${searchDirs(o.modelsDir).join(', ')}`)
        print(
          table(
            checks.map((c) => ({
              model: c.id,
              status: c.ok ? 'ok' : 'FAILED',
              path: c.path ?? '-',
              first: c.firstMs ?? '-',
              median: c.medianMs ?? '-',
              result: c.result ?? c.error ?? '',
            })),
            { model: 'MODEL', status: 'STATUS', path: 'PATH', first: 'FIRST MS', median: 'MEDIAN MS', result: 'RESULT' },
          ),
        )
        if (pool)
          print(pool.ok ? `worker pool: ok (started and analysed one frame in ${pool.ms} ms)` : `worker pool: FAILED: ${pool.error}`)
      }
      const bad = checks.filter((c) => !c.ok)
      if (bad.length) throw new CliError(`${bad.length} model(s) not usable: ${bad.map((c) => `${c.id}: ${c.error}`).join('; ')}`)
      if (pool && !pool.ok) throw new CliError(`the vision worker pool did not start: ${pool.error}`)
    })
}
