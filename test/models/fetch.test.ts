import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchItem, fetchItems, fetchModels, type FetchItem } from '../../models/fetch.ts'
import { PROJECT_ROOT, loadManifest, sha256File } from '../../models/manifest.ts'
import { samplePath } from '../../models/samples.ts'
import { SAMPLE_PHOTOS } from '../dashboards/field.ts'
import { startModelsMirror } from '../support/models-mirror.ts'
import { freePort, tempDir } from '../support/services.ts'
import { MOSAIC_PHOTOS } from '../vision/mosaic.ts'

// `iocgw models fetch` against a real local HTTP server holding the real files (the mirror case,
// as an offline site would run it), with the ways a download goes wrong: a redirect, wrong bytes,
// a web page instead of the file, nobody listening.

const run = promisify(execFile)
const BIN = join(PROJECT_ROOT, 'gateway/cli/iocgw.js')

let mirror: Awaited<ReturnType<typeof startModelsMirror>>
let base: string
let requests: string[]
beforeAll(async () => {
  mirror = await startModelsMirror()
  base = mirror.base
  requests = mirror.requests
})
afterAll(() => mirror?.close())

const dirs: Array<{ remove(): void }> = []
afterAll(() => dirs.forEach((d) => d.remove()))
function scratch(): string {
  const d = tempDir('iocgw-fetch-')
  dirs.push(d)
  return d.path
}

describe('the manifests', () => {
  it('give each file its real download URL (a raw file, not a web page about it) and its sha256', () => {
    const items = fetchItems()
    expect(items.map((i) => i.target)).toEqual(
      expect.arrayContaining(['yolox_nano.onnx', 'deeplabv3_mnv2_ade20k_uint8.onnx', 'samples/flood_lagos_2019.jpg']),
    )
    for (const i of items) {
      expect(i.url, i.name).toMatch(/^https:\/\//)
      expect(i.url, `${i.name}: a GitHub page, not the file`).not.toMatch(/^https:\/\/github\.com\/[^/]+\/[^/]+\/(blob|tree)\//)
      expect(i.sha256).toMatch(/^[0-9a-f]{64}$/)
    }
  })

  it('list every photo the tests and the demo use, with the sha256 of the file found here', async () => {
    for (const i of fetchItems().filter((x) => x.target.startsWith('samples/')))
      expect(await sha256File(samplePath(i.name)), i.target).toBe(i.sha256)
    expect(fetchItems().map((i) => i.name)).toEqual(expect.arrayContaining([...SAMPLE_PHOTOS, ...MOSAIC_PHOTOS]))
  })
})

describe('iocgw models fetch', () => {
  it('downloads every file from a mirror into --dir, checks it, and leaves present files alone on the next run', async () => {
    const dir = scratch()
    const first = await run('node', [BIN, 'models', 'fetch', '--dir', dir, '--from', `${base}/files`], {
      cwd: PROJECT_ROOT,
      timeout: 120_000,
    })
    expect(first.stdout).toContain('yolox_nano.onnx: downloaded from')
    for (const i of fetchItems()) expect(await sha256File(join(dir, i.target)), i.target).toBe(i.sha256)
    expect(readdirSync(dir).filter((f) => f.includes('.part-'))).toEqual([])

    const before = requests.length
    // The mirror may also be named by IOC_MODELS_BASE_URL (offline sites set it once).
    const again = await run('node', [BIN, 'models', 'fetch', '--dir', dir, '--json'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, IOC_MODELS_BASE_URL: `${base}/files/` },
      timeout: 120_000,
    })
    const res = JSON.parse(again.stdout) as Array<{ name: string; status: string }>
    expect(res.every((r) => r.status === 'present')).toBe(true)
    expect(requests.length).toBe(before)
  })

  it('follows redirects and fetches only what --only names', async () => {
    const dir = scratch()
    const res = await fetchModels({ dir, from: `${base}/moved`, only: ['yolox_nano'] })
    expect(res).toEqual([expect.objectContaining({ name: 'yolox_nano', status: 'downloaded' })])
    expect(readdirSync(dir)).toEqual(['yolox_nano.onnx'])
    expect(await sha256File(join(dir, 'yolox_nano.onnx'))).toBe(loadManifest('yolox_nano').sha256)
  })

  it('refuses a file with the wrong bytes: says which and why, keeps nothing, leaves the old file in place', async () => {
    const dir = scratch()
    writeFileSync(join(dir, 'yolox_nano.onnx'), 'an old copy')
    const err = await run(
      'node',
      [BIN, 'models', 'fetch', '--dir', dir, '--from', `${base}/wrong`, '--only', 'yolox_nano', 'coco_000000001532.jpg'],
      { cwd: PROJECT_ROOT },
    ).catch((e: { code: number; stdout: string; stderr: string }) => e)
    expect('code' in err && err.code).toBe(1)
    const out = `${err.stdout}${err.stderr}`
    expect(out).toContain(`yolox_nano.onnx: FAILED: ${base}/wrong/yolox_nano.onnx gave 1000 bytes with sha256`)
    expect(out).toContain(`expected 3660092 bytes with sha256 ${loadManifest('yolox_nano').sha256}`)
    expect(out).toContain('2 of 2 file(s) not fetched: yolox_nano, coco_000000001532.jpg')
    expect(readFileSync(join(dir, 'yolox_nano.onnx'), 'utf8')).toBe('an old copy')
    expect(readdirSync(dir)).toEqual(['samples', 'yolox_nano.onnx'])
    expect(readdirSync(join(dir, 'samples'))).toEqual([])
  })

  it('says when the server sent a web page instead of the file', async () => {
    const dir = scratch()
    const [r] = await fetchModels({ dir, from: `${base}/html`, only: ['deeplabv3_mnv2_ade20k_uint8'] })
    expect(r!.status).toBe('failed')
    expect(r!.error).toMatch(/the server sent a web page, not the file/)
    expect(existsSync(join(dir, 'deeplabv3_mnv2_ade20k_uint8.onnx'))).toBe(false)
  })

  it('fails with the reason when nobody answers, instead of waiting', async () => {
    const dir = scratch()
    const closed = await freePort()
    const [r] = await fetchModels({ dir, from: `http://127.0.0.1:${closed}/`, only: ['yolox_nano'] })
    expect(r!.status).toBe('failed')
    expect(r!.error).toContain(`cannot download http://127.0.0.1:${closed}/yolox_nano.onnx: ECONNREFUSED`)
  })

  it('names the unknown when --only is not a model or sample', async () => {
    const err = await run('node', [BIN, 'models', 'fetch', '--dir', scratch(), '--only', 'yolov9'], { cwd: PROJECT_ROOT }).catch(
      (e: { code: number; stderr: string }) => e,
    )
    expect('code' in err && err.code).toBe(1)
    expect((err as { stderr: string }).stderr).toMatch(
      /unknown name\(s\) for --only: yolov9; known: yolox_nano, deeplabv3_mnv2_ade20k_uint8, samples/,
    )
  })
})

describe('a sample made from its download (scaled and re-encoded, as flood_lagos_2019.jpg is)', () => {
  it('checks the download, scales it, checks the result, and says so when this sharp encodes differently', async () => {
    const big = await sharp({ create: { width: 2000, height: 1000, channels: 3, background: { r: 40, g: 90, b: 160 } } })
      .jpeg({ quality: 95 })
      .toBuffer()
    const made = await sharp(big).resize({ width: 640 }).jpeg({ quality: 85 }).toBuffer()
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
    const server = createServer((_req, res) => res.writeHead(200).end(big))
    const port = await freePort()
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r))
    try {
      const item: FetchItem = {
        name: 'wide.jpg',
        target: 'samples/wide.jpg',
        url: `http://127.0.0.1:${port}/wide.jpg`,
        bytes: made.length,
        sha256: sha(made),
        derive: { bytes: big.length, sha256: sha(big), width: 640, jpegQuality: 85 },
      }
      const dir = scratch()
      await fetchItem(item, join(dir, item.target))
      expect(await sha256File(join(dir, item.target))).toBe(sha(made))

      const other = scratch()
      await expect(fetchItem({ ...item, sha256: '0'.repeat(64) }, join(other, item.target))).rejects.toThrow(
        `scaling http://127.0.0.1:${port}/wide.jpg to 640 px (JPEG q85) gave sha256 ${sha(made)}, not ${'0'.repeat(64)}`,
      )
      expect(readdirSync(join(other, 'samples'))).toEqual([])
    } finally {
      await new Promise<void>((r) => server.close(() => r()))
    }
  })
})
