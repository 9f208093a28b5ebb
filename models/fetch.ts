import { createHash } from 'node:crypto'
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { MODEL_IDS, MODELS_HOME, loadManifest, sha256File } from './manifest.ts'
import { loadSamples, type Sample } from './samples.ts'

// `iocgw models fetch`: downloads each file a manifest lists from its real download URL (or from a
// mirror holding the same layout as models/), checks its sha256 before it takes the file's place,
// and leaves files already present with the right hash alone. Nothing unchecked ever lands under
// the file's own name: the download goes to a temporary file beside it and is renamed at the end.

export interface FetchItem {
  /** What --only matches: a model id, `samples`, or a sample's file name. */
  name: string
  /** Path inside the models folder (also the path under a mirror). */
  target: string
  url: string
  bytes: number
  sha256: string
  derive?: Sample['derive']
}

export interface FetchResult {
  name: string
  path: string
  status: 'present' | 'downloaded' | 'failed'
  from?: string
  error?: string
}

export interface FetchOptions {
  /** Where the files go (models/ of the project by default); samples go to <dir>/samples. */
  dir?: string | undefined
  /** Model ids, `samples`, or sample file names; everything when empty. */
  only?: readonly string[] | undefined
  /** A mirror with the layout of models/ (`<base>/yolox_nano.onnx`, `<base>/samples/...`): IOC_MODELS_BASE_URL. */
  from?: string | undefined
  /** Per file, from request to last byte. */
  timeoutMs?: number | undefined
  /** One line per file as it is handled. */
  progress?: ((line: string) => void) | undefined
  /** Stop at the first failure (no network: one clear error instead of one wait per file). */
  failFast?: boolean | undefined
}

/** Every file the manifests list: the models, then the sample photos. */
export function fetchItems(): FetchItem[] {
  const models = MODEL_IDS.map((id) => {
    const m = loadManifest(id)
    return { name: id, target: m.file, url: m.source.url, bytes: m.bytes, sha256: m.sha256 }
  })
  const samples = loadSamples().map((s) => ({
    name: s.file,
    target: `samples/${s.file}`,
    url: s.url,
    bytes: s.bytes,
    sha256: s.sha256,
    derive: s.derive,
  }))
  return [...models, ...samples]
}

export function selectItems(only: readonly string[] | undefined): FetchItem[] {
  const all = fetchItems()
  if (!only || only.length === 0) return all
  const unknown = only.filter((o) => o !== 'samples' && !all.some((i) => i.name === o))
  if (unknown.length) {
    throw new Error(
      `unknown name(s) for --only: ${unknown.join(', ')}; known: ${[...MODEL_IDS, 'samples', ...all.filter((i) => i.target.startsWith('samples/')).map((i) => i.name)].join(', ')}`,
    )
  }
  return all.filter((i) => only.includes(i.name) || (only.includes('samples') && i.target.startsWith('samples/')))
}

export async function fetchModels(opts: FetchOptions = {}): Promise<FetchResult[]> {
  const dir = opts.dir ?? MODELS_HOME
  const base = opts.from ?? process.env.IOC_MODELS_BASE_URL
  const say = opts.progress ?? (() => undefined)
  const results: FetchResult[] = []
  for (const item of selectItems(opts.only)) {
    const path = join(dir, item.target)
    if (existsSync(path) && (await sha256File(path)) === item.sha256) {
      results.push({ name: item.name, path, status: 'present' })
      say(`${item.target}: already present (sha256 ok)`)
      continue
    }
    // A mirror holds the finished files; only the original source needs the derive step.
    const url = base ? new URL(item.target, base.endsWith('/') ? base : `${base}/`).href : item.url
    try {
      await fetchItem(item, path, { url, derive: !base, timeoutMs: opts.timeoutMs })
      results.push({ name: item.name, path, status: 'downloaded', from: url })
      say(`${item.target}: downloaded from ${url} (sha256 ok)`)
    } catch (err) {
      const error = (err as Error).message
      results.push({ name: item.name, path, status: 'failed', from: url, error })
      say(`${item.target}: FAILED: ${error}`)
      if (opts.failFast) break
    }
  }
  return results
}

/** Downloads one item to `path` from `url` (its source URL by default), applying its derive step unless told not to. */
export async function fetchItem(
  item: FetchItem,
  path: string,
  o: { url?: string; derive?: boolean; timeoutMs?: number | undefined } = {},
): Promise<void> {
  const derive = o.derive === false ? undefined : item.derive
  mkdirSync(dirname(path), { recursive: true })
  await download(o.url ?? item.url, path, derive ?? item, derive ? item : undefined, o.timeoutMs ?? 300_000)
}

/**
 * Streams `url` to a temporary file beside `path`, checking size and sha256 against `expect`; with
 * `final`, the download is scaled and re-encoded first and the result checked against `final`.
 */
async function download(
  url: string,
  path: string,
  expect: { bytes: number; sha256: string },
  final: FetchItem | undefined,
  timeoutMs: number,
): Promise<void> {
  const part = `${path}.part-${process.pid}`
  const derived = `${path}.derived-${process.pid}`
  try {
    let res: Response
    try {
      res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(timeoutMs) })
    } catch (err) {
      throw new Error(`cannot download ${url}: ${networkReason(err)}`, { cause: err })
    }
    if (!res.ok || !res.body) throw new Error(`${url} answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`)
    const hash = createHash('sha256')
    let seen = 0
    const limit = expect.bytes
    try {
      await pipeline(
        Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>),
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            seen += chunk.length
            // A wrong file (an HTML error page, another version) must not fill the disk.
            if (seen > limit) throw new Error(`more than the expected ${limit} bytes`)
            hash.update(chunk)
            yield chunk
          }
        },
        createWriteStream(part),
      )
    } catch (err) {
      throw new Error(`download of ${url} broke off after ${seen} bytes: ${networkReason(err)}`, { cause: err })
    }
    const got = hash.digest('hex')
    if (got !== expect.sha256 || seen !== expect.bytes) {
      const html = /^text\/html/i.test(res.headers.get('content-type') ?? '') ? ' (the server sent a web page, not the file)' : ''
      throw new Error(`${url} gave ${seen} bytes with sha256 ${got}; expected ${expect.bytes} bytes with sha256 ${expect.sha256}${html}`)
    }
    if (final?.derive) {
      const { default: sharp } = await import('sharp')
      await sharp(part).resize({ width: final.derive.width }).jpeg({ quality: final.derive.jpegQuality }).toFile(derived)
      const sha = await sha256File(derived)
      if (sha !== final.sha256) {
        throw new Error(
          `scaling ${url} to ${final.derive.width} px (JPEG q${final.derive.jpegQuality}) gave sha256 ${sha}, not ${final.sha256}; this sharp/libvips encodes differently: fetch this file from a mirror (--from)`,
        )
      }
      renameSync(derived, path)
    } else {
      renameSync(part, path)
    }
  } finally {
    rmSync(part, { force: true })
    rmSync(derived, { force: true })
  }
}

function networkReason(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } }
  if (e.name === 'TimeoutError') return 'timed out'
  const c = e.cause
  if (!c) return e.message
  return c.code ? `${c.code}${c.message && !c.message.includes(c.code) ? ` (${c.message})` : ''}` : (c.message ?? e.message)
}
