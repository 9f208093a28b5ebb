import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { PROJECT_ROOT, resolveModel } from '../../models/manifest.ts'
import { tempDir } from '../support/services.ts'

// `iocgw models verify` as users run it (node gateway/cli/iocgw.js, no vitest transform): finds
// the models, checks sha256, runs inference, and starts the TypeScript worker pool under tsx.

const run = promisify(execFile)
const dir = tempDir('iocgw-models-')
afterAll(() => dir.remove())

describe('iocgw models verify', () => {
  it('checks both models and starts the worker pool from the real CLI', async () => {
    const { stdout } = await run('node', [join(PROJECT_ROOT, 'gateway/cli/iocgw.js'), 'models', 'verify', '--json', '--runs', '1'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, IOC_MODELS_DIR: dir.path },
      timeout: 120_000,
    })
    const res = JSON.parse(stdout) as {
      searched: string[]
      models: Array<{ id: string; ok: boolean; sha256: string; medianMs: number; result: string }>
      pool: { ok: boolean }
    }
    expect(res.searched[0]).toBe(dir.path)
    expect(res.models.map((m) => [m.id, m.ok])).toEqual([
      ['yolox_nano', true],
      ['deeplabv3_mnv2_ade20k_uint8', true],
    ])
    expect(res.models[0]!.result).toBe('5 vehicles at >= 0.5 (car, car, car, truck, car)')
    expect(res.models[0]!.medianMs).toBeGreaterThan(0)
    expect(res.pool.ok).toBe(true)
  })

  it('skips a copy whose sha256 does not match the manifest and uses the next folder', async () => {
    writeFileSync(join(dir.path, 'yolox_nano.onnx'), 'not a model')
    const r = await resolveModel('yolox_nano', dir.path)
    expect(r.path).not.toBe(join(dir.path, 'yolox_nano.onnx'))
    expect(r.sha256).toBe('695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14')
    await expect(resolveModel('no_such_model')).rejects.toThrow(/no manifest/)
  })

  it('refuses a bad option with one line and exit code 1', async () => {
    const err = await run('node', [join(PROJECT_ROOT, 'gateway/cli/iocgw.js'), 'models', 'verify', '--runs', '0'], {
      cwd: PROJECT_ROOT,
    }).catch((e: { code: number; stderr: string }) => e)
    expect((err as { code: number }).code).toBe(1)
    expect((err as { stderr: string }).stderr.trim()).toBe('iocgw: --runs must be an integer from 1 to 1000')
  })
})
