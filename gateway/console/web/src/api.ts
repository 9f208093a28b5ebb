// The console's only way to the gateway: same-origin fetches under /api/v1 with the session
// cookie. Every state-changing request carries the CSRF token from login or /auth/me
// (docs/api.md, "Sessions").

export const API = '/api/v1'

export type Role = 'admin' | 'officer' | 'technician' | 'viewer'

export interface User {
  name: string
  role: Role
  districts: string[]
  stations: string[]
}

export interface Session {
  user: User
  csrfToken: string
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfter?: number,
  ) {
    super(message)
  }
}

let csrfToken = ''
/** Called when any request answers 401: the session ended (idle timeout, logout elsewhere). */
let onUnauthorized: () => void = () => {}

export function setCsrfToken(token: string): void {
  csrfToken = token
}

export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler
}

async function request<T>(method: string, path: string, body?: unknown, opts: { quiet401?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken
  let res: Response
  try {
    res = await fetch(`${API}${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
  } catch {
    throw new ApiError(0, 'network')
  }
  if (res.status === 204) return undefined as T
  let data: unknown = null
  try {
    data = await res.json()
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  if (!res.ok) {
    const message =
      typeof (data as { message?: unknown } | null)?.message === 'string' ? (data as { message: string }).message : res.statusText
    const retry = Number(res.headers.get('retry-after'))
    if (res.status === 401 && !opts.quiet401) onUnauthorized()
    throw new ApiError(res.status, message, Number.isFinite(retry) && retry > 0 ? retry : undefined)
  }
  return data as T
}

export const api = {
  get: <T>(path: string, opts?: { quiet401?: boolean }) => request<T>('GET', path, undefined, opts),
  post: <T>(path: string, body?: unknown, opts?: { quiet401?: boolean }) => request<T>('POST', path, body, opts),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, body),
  delete: <T>(path: string) => request<T>('DELETE', path),
  put: <T>(path: string, body: unknown) => request<T>('PUT', path, body),
}

/** One page of a list (docs/api.md, "Lists and paging"). */
export interface Page<T> {
  items: T[]
  next: string | null
}

/**
 * Every item of a list, 500 a page, following `next` for at most `maxPages` pages: a bound, so a
 * server that kept answering a cursor cannot keep the console loading for ever.
 */
export async function allPages<T>(path: string, maxPages = 20): Promise<T[]> {
  const out: T[] = []
  const sep = path.includes('?') ? '&' : '?'
  let cursor: string | null = null
  for (let pages = 0; pages < maxPages; pages++) {
    const page: Page<T> = await api.get<Page<T>>(`${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    out.push(...page.items)
    cursor = page.next
    if (!cursor) break
  }
  return out
}

export const auth = {
  me: () => api.get<Session>('/auth/me', { quiet401: true }),
  login: (username: string, password: string) => api.post<Session>('/auth/login', { username, password }, { quiet401: true }),
  logout: () => api.post<void>('/auth/logout', undefined, { quiet401: true }),
}
