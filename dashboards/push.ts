import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import { DATASOURCE_UID } from './lib/influxql.ts'
import type { BuiltBoard } from './index.ts'

// Upserts the boards into a Grafana folder through its HTTP API (documented endpoints:
// GET/POST /api/folders, GET /api/dashboards/uid/:uid, POST /api/dashboards/db,
// GET /api/datasources/uid/:uid). Plain fetch: the calls are few and a client package would add
// nothing but another dependency.

export const DEFAULT_FOLDER = 'IOC Huế'
export const DEFAULT_FOLDER_UID = 'ioc'

export interface PushOptions {
  grafanaUrl: string
  token: string
  /** Folder title; found by title, created when missing. */
  folder?: string
  /** Data source uid the boards should use in that Grafana (default: the provisioned one). */
  datasourceUid?: string
  message?: string
  /**
   * Send Grafana's `overwrite: true`; off by default. With it Grafana skips its version check and,
   * when another board in the folder has the same title, saves over that board and keeps *its*
   * uid, losing the stable uids that links and provisioning rely on. Without it the push sends
   * the version it read (optimistic concurrency) and Grafana answers 412 on a conflict.
   */
  overwrite?: boolean
  fetch?: typeof fetch
}

export type BoardOutcome = 'created' | 'updated' | 'unchanged' | 'failed'

export interface PushedBoard {
  uid: string
  title: string
  outcome: BoardOutcome
  version?: number
  url?: string
  error?: string
}

export interface PushReport {
  folder: { uid: string; title: string; created: boolean }
  datasource: { uid: string; found: boolean }
  boards: PushedBoard[]
}

/** An answer from Grafana that stops the push; `message` is meant for the operator as is. */
export class GrafanaError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message)
    this.name = 'GrafanaError'
  }
}

interface GrafanaBody {
  message?: string
  status?: string
  [k: string]: unknown
}

function explain(status: number, body: GrafanaBody, what: string): string {
  const said = body.message ? `: ${body.message}` : ''
  switch (status) {
    case 401:
      return `Grafana refused the token (401 Unauthorized${said}) while ${what}. Check --token: it must be a service account token (or API key) of this Grafana, not expired.`
    case 403:
      return `Grafana denied access (403 Forbidden${said}) while ${what}. Give the token's service account the Editor role, or dashboards:write and folders:create on the folder.`
    case 412: {
      const why =
        body.status === 'version-mismatch'
          ? 'someone saved this board in Grafana while the push ran; run the push again (it reads the new version), after copying any edits worth keeping into dashboards/'
          : body.status === 'name-exists'
            ? 'another board with the same title but a different uid is in the folder; rename or delete that board in Grafana (--overwrite would save over it and keep its uid, not ours)'
            : body.status === 'plugin-dashboard'
              ? 'a plugin owns a board with this uid; remove the plugin board first'
              : 'Grafana refused the precondition of the update'
      return `Grafana refused ${what} (412 Precondition Failed, ${body.status ?? 'no status'}${said}): ${why}.`
    }
    default:
      return `Grafana answered ${status}${said} while ${what}.`
  }
}

/** Fields Grafana sets itself on save; left out when deciding whether a board changed. */
function comparable(d: Record<string, unknown>): string {
  const { id: _id, version: _version, ...rest } = d
  return JSON.stringify(sortKeys(rest))
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys)
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v as Record<string, unknown>)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    )
  }
  return v
}

/** Points every reference to the provisioned data source at `uid`. */
export function withDatasource(board: dashboard.Dashboard, uid: string): dashboard.Dashboard {
  if (uid === DATASOURCE_UID) return board
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk)
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>
      if (o.type === 'influxdb' && o.uid === DATASOURCE_UID && Object.keys(o).length === 2) return { type: 'influxdb', uid }
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, walk(x)]))
    }
    return v
  }
  return walk(board) as dashboard.Dashboard
}

/** A folder uid from a title: Grafana allows up to 40 of [a-zA-Z0-9-_]. */
export function folderUidFor(title: string): string {
  if (title === DEFAULT_FOLDER) return DEFAULT_FOLDER_UID
  const slug = title
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/đ/g, 'd')
    .replace(/Đ/g, 'D')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
  return slug || DEFAULT_FOLDER_UID
}

export async function pushBoards(boards: BuiltBoard[], opts: PushOptions): Promise<PushReport> {
  const doFetch = opts.fetch ?? fetch
  const base = opts.grafanaUrl.replace(/\/+$/, '')
  const headers = {
    Authorization: `Bearer ${opts.token}`,
    Accept: 'application/json',
    'Content-Type': 'application/json',
  }
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: GrafanaBody }> => {
    let res: Response
    try {
      res = await doFetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    } catch (err) {
      throw new GrafanaError(`Cannot reach Grafana at ${base} (${(err as Error).message}); check --grafana-url.`, 0)
    }
    const text = await res.text()
    let parsed: unknown
    try {
      parsed = text ? JSON.parse(text) : {}
    } catch {
      parsed = { message: text.slice(0, 200) }
    }
    return { status: res.status, body: (parsed && typeof parsed === 'object' ? parsed : { value: parsed }) as GrafanaBody }
  }
  const fail = (status: number, body: GrafanaBody, what: string): never => {
    throw new GrafanaError(explain(status, body, what), status)
  }

  // Data source: boards refer to it by uid; a missing one is reported, not fatal, since an
  // operator may provision it after the boards.
  const dsUid = opts.datasourceUid ?? DATASOURCE_UID
  const ds = await call('GET', `/api/datasources/uid/${encodeURIComponent(dsUid)}`)
  if (ds.status === 401 || ds.status === 403) fail(ds.status, ds.body, `looking up data source ${dsUid}`)
  const datasource = { uid: dsUid, found: ds.status === 200 }

  // Folder: found by title (titles are what officers see), else created with a stable uid.
  const title = opts.folder ?? DEFAULT_FOLDER
  const list = await call('GET', '/api/folders?limit=1000')
  if (list.status !== 200) fail(list.status, list.body, 'listing folders')
  const folders = Array.isArray(list.body) ? (list.body as Array<{ uid: string; title: string }>) : []
  let folder = folders.find((f) => f.title === title)
  let created = false
  if (!folder) {
    const uid = folderUidFor(title)
    const made = await call('POST', '/api/folders', { uid, title })
    if (made.status === 409) {
      // The uid is taken by a folder with another title (renamed in the UI): reuse it.
      const again = await call('GET', `/api/folders/${encodeURIComponent(uid)}`)
      if (again.status !== 200) fail(again.status, again.body, `reading folder ${uid}`)
      folder = { uid, title: String(again.body.title ?? title) }
    } else {
      if (made.status !== 200) fail(made.status, made.body, `creating folder "${title}"`)
      folder = { uid: String(made.body.uid ?? uid), title: String(made.body.title ?? title) }
      created = true
    }
  }

  const pushed: PushedBoard[] = []
  for (const b of boards) {
    const json = withDatasource(b.json, dsUid) as dashboard.Dashboard & Record<string, unknown>
    const current = await call('GET', `/api/dashboards/uid/${encodeURIComponent(b.uid)}`)
    if (current.status === 401 || current.status === 403) fail(current.status, current.body, `reading board ${b.uid}`)
    let existed = false
    let storedVersion: number | undefined
    if (current.status === 200) {
      existed = true
      const stored = (current.body.dashboard ?? {}) as Record<string, unknown>
      const meta = (current.body.meta ?? {}) as { folderUid?: string; provisioned?: boolean }
      if (typeof stored.version === 'number') storedVersion = stored.version
      if (meta.provisioned) {
        pushed.push({
          uid: b.uid,
          title: b.title,
          outcome: 'failed',
          error: `"${b.title}" is provisioned from files in this Grafana; it is updated by rebuilding dashboards/build, not by push.`,
        })
        continue
      }
      if (comparable(stored) === comparable(json) && (meta.folderUid ?? '') === folder.uid) {
        const entry: PushedBoard = { uid: b.uid, title: b.title, outcome: 'unchanged' }
        if (typeof stored.version === 'number') entry.version = stored.version
        pushed.push(entry)
        continue
      }
    }
    const save = await call('POST', '/api/dashboards/db', {
      dashboard: { ...json, id: null, ...(storedVersion === undefined ? {} : { version: storedVersion }) },
      folderUid: folder.uid,
      overwrite: opts.overwrite ?? false,
      message: opts.message ?? 'iocgw dashboards push',
    })
    if (save.status === 401 || save.status === 403) fail(save.status, save.body, `saving board ${b.uid}`)
    if (save.status !== 200) {
      pushed.push({
        uid: b.uid,
        title: b.title,
        outcome: 'failed',
        error: explain(save.status, save.body, `saving "${b.title}" (${b.uid})`),
      })
      continue
    }
    const entry: PushedBoard = { uid: b.uid, title: b.title, outcome: existed ? 'updated' : 'created' }
    if (typeof save.body.version === 'number') entry.version = save.body.version
    if (typeof save.body.url === 'string') entry.url = save.body.url
    pushed.push(entry)
  }
  return { folder: { uid: folder.uid, title: folder.title, created }, datasource, boards: pushed }
}
