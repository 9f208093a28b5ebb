import { createReadStream } from 'node:fs'
import { createServer } from 'node:http'
import { fetchItems } from '../../models/fetch.ts'
import { MODEL_IDS, loadManifest, resolveModel } from '../../models/manifest.ts'
import { samplePath } from '../../models/samples.ts'
import { freePort } from './services.ts'

/**
 * A local HTTP server holding the real model files and sample photos in the layout of models/, as
 * an offline site's mirror would: `<base>/files/<target>`. Other first segments misbehave on
 * purpose: `moved` redirects to `files`, `html` answers a web page, `wrong` answers wrong bytes.
 * Files are located when it starts (later changes to IOC_MODELS_DIR do not move them).
 */
export async function startModelsMirror(): Promise<{ base: string; requests: string[]; close(): Promise<void> }> {
  const files = new Map<string, string>()
  for (const item of fetchItems()) {
    const id = MODEL_IDS.find((i) => loadManifest(i).file === item.target)
    files.set(item.target, id ? (await resolveModel(id)).path : samplePath(item.target.slice('samples/'.length)))
  }
  const requests: string[] = []
  const server = createServer((req, res) => {
    const url = req.url ?? '/'
    requests.push(url)
    const [, mode, ...rest] = url.split('/')
    const path = files.get(rest.join('/'))
    if (!path) return void res.writeHead(404).end('not found')
    if (mode === 'moved') return void res.writeHead(302, { location: `/files/${rest.join('/')}` }).end()
    if (mode === 'html')
      return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>GitHub</title>')
    if (mode === 'wrong') return void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(1000, 7))
    if (mode !== 'files') return void res.writeHead(404).end()
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    createReadStream(path).pipe(res)
  })
  const port = await freePort()
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r))
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}
