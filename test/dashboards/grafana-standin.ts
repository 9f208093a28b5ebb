import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'

// A local stand-in for the parts of Grafana's HTTP API that `iocgw dashboards push` uses, following
// the documented requests and answers (Dashboard API, Folder API, Data source API) and Grafana's
// save rules: bearer token auth (401 with Grafana's error body), folders by uid, dashboards by uid
// with a version that rises on every save, 412 version-mismatch when the version sent is not the
// stored one, 412 name-exists for another board with the same title in the folder (both skipped
// with overwrite, which then takes over the same-title board's uid as Grafana does).

export interface StoredBoard {
  id: number
  uid: string
  title: string
  folderUid: string
  version: number
  json: Record<string, unknown>
  provisioned?: boolean
}

export interface Standin {
  url: string
  token: string
  folders: Map<string, { id: number; uid: string; title: string }>
  boards: Map<string, StoredBoard>
  datasources: Set<string>
  requests: Array<{ method: string; path: string; body?: unknown }>
  /** Runs before a save is checked: lets a test play someone saving in between. */
  beforeSave?: (body: Record<string, unknown>) => void
  close(): Promise<void>
}

const slug = (t: string) =>
  t
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')

export async function startStandin(token = 'glsa_standin_token_0123456789'): Promise<Standin> {
  let nextId = 1
  const state: Omit<Standin, 'url' | 'close'> = {
    token,
    folders: new Map(),
    boards: new Map(),
    datasources: new Set(['ioc-influxdb']),
    requests: [],
  }
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' })
    res.end(JSON.stringify(body))
  }
  const readBody = async (req: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const text = Buffer.concat(chunks).toString('utf8')
    return text ? JSON.parse(text) : undefined
  }

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://standin')
    const path = url.pathname
    let body: unknown
    try {
      body = await readBody(req)
    } catch {
      return send(res, 400, { message: 'bad request data' })
    }
    state.requests.push({ method: req.method ?? '', path, body })
    if (req.headers.authorization !== `Bearer ${state.token}`) {
      return send(res, 401, { extra: null, message: 'Invalid API key', messageId: 'api-key.invalid', statusCode: 401, traceID: '' })
    }
    let m: RegExpExecArray | null
    if (req.method === 'GET' && (m = /^\/api\/datasources\/uid\/([^/]+)$/.exec(path))) {
      const uid = decodeURIComponent(m[1]!)
      if (!state.datasources.has(uid)) return send(res, 404, { message: 'Data source not found' })
      return send(res, 200, {
        id: 1,
        uid,
        name: 'IOC InfluxDB',
        type: 'influxdb',
        access: 'proxy',
        url: 'http://influxdb:8086',
        jsonData: { dbName: 'ioc' },
      })
    }
    if (req.method === 'GET' && path === '/api/folders') {
      return send(
        res,
        200,
        [...state.folders.values()].map((f) => ({ id: f.id, uid: f.uid, title: f.title })),
      )
    }
    if (req.method === 'GET' && (m = /^\/api\/folders\/([^/]+)$/.exec(path))) {
      const f = state.folders.get(decodeURIComponent(m[1]!))
      if (!f) return send(res, 404, { message: 'folder not found', status: 'not-found' })
      return send(res, 200, { ...f, url: `/dashboards/f/${f.uid}/${slug(f.title)}`, version: 1 })
    }
    if (req.method === 'POST' && path === '/api/folders') {
      const b = body as { uid?: string; title?: string }
      if (!b?.title) return send(res, 400, { message: 'folder title cannot be empty' })
      const uid = b.uid ?? `f${nextId}`
      if (state.folders.has(uid)) return send(res, 409, { message: 'a folder with the same uid already exists' })
      if ([...state.folders.values()].some((f) => f.title === b.title))
        return send(res, 409, { message: 'a folder or dashboard in the general folder with the same name already exists' })
      const f = { id: nextId++, uid, title: b.title }
      state.folders.set(uid, f)
      return send(res, 200, {
        ...f,
        url: `/dashboards/f/${uid}/${slug(f.title)}`,
        hasAcl: false,
        canSave: true,
        canEdit: true,
        canAdmin: true,
        version: 1,
      })
    }
    if (req.method === 'GET' && (m = /^\/api\/dashboards\/uid\/([^/]+)$/.exec(path))) {
      const d = state.boards.get(decodeURIComponent(m[1]!))
      if (!d) return send(res, 404, { message: 'Dashboard not found' })
      const f = state.folders.get(d.folderUid)
      return send(res, 200, {
        dashboard: { ...d.json, id: d.id, uid: d.uid, version: d.version },
        meta: {
          type: 'db',
          slug: slug(d.title),
          url: `/d/${d.uid}/${slug(d.title)}`,
          version: d.version,
          folderUid: d.folderUid,
          folderTitle: f?.title ?? '',
          provisioned: d.provisioned ?? false,
        },
      })
    }
    if (req.method === 'POST' && path === '/api/dashboards/db') {
      const b = body as { dashboard?: Record<string, unknown>; folderUid?: string; overwrite?: boolean }
      state.beforeSave?.(b as Record<string, unknown>)
      const dash = b?.dashboard
      if (!dash || typeof dash.title !== 'string' || !dash.title.trim())
        return send(res, 400, { message: 'Dashboard title cannot be empty', status: 'empty-name' })
      const folderUid = b.folderUid ?? ''
      if (folderUid && !state.folders.has(folderUid)) return send(res, 400, { message: 'folder not found' })
      let uid = typeof dash.uid === 'string' && dash.uid ? dash.uid : `d${nextId}`
      const overwrite = b.overwrite === true
      let existing = state.boards.get(uid)
      if (existing) {
        if (existing.provisioned) return send(res, 400, { message: 'Cannot save provisioned dashboard' })
        if (dash.version !== existing.version && !overwrite)
          return send(res, 412, { message: 'The dashboard has been changed by someone else', status: 'version-mismatch' })
      }
      const sameTitle = [...state.boards.values()].find(
        (d) => d.folderUid === folderUid && slug(d.title) === slug(dash.title as string) && d.uid !== uid,
      )
      if (sameTitle) {
        if (!overwrite)
          return send(res, 412, { message: 'A dashboard with the same name in the folder already exists', status: 'name-exists' })
        state.boards.delete(sameTitle.uid)
        uid = sameTitle.uid
        existing = sameTitle
      }
      const saved: StoredBoard = {
        id: existing?.id ?? nextId++,
        uid,
        title: dash.title as string,
        folderUid,
        version: existing ? existing.version + 1 : 1,
        json: { ...dash, uid },
      }
      delete saved.json.id
      delete saved.json.version
      state.boards.set(uid, saved)
      return send(res, 200, {
        id: saved.id,
        uid,
        url: `/d/${uid}/${slug(saved.title)}`,
        status: 'success',
        version: saved.version,
        slug: slug(saved.title),
      })
    }
    return send(res, 404, { message: 'Not found' })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as { port: number }
  const standin = state as Standin
  standin.url = `http://127.0.0.1:${port}`
  standin.close = () => new Promise((r) => server.close(() => r()))
  return standin
}
