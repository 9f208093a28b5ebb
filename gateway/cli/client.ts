import { CliError } from './errors.ts'
import { table } from './table.ts'

// The client commands talk to a running gateway's API, like any integrator would.

export interface ApiClientOptions {
  baseUrl?: string
  token?: string
}

export const DEFAULT_API_URL = 'http://127.0.0.1:8080'

export function apiBaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  return (env.IOC_API_URL || DEFAULT_API_URL).replace(/\/+$/, '')
}

function requireToken(env: NodeJS.ProcessEnv): string {
  const token = env.IOC_TOKEN
  if (!token) {
    throw new CliError(
      'IOC_TOKEN is not set: export IOC_TOKEN=<token> (the bootstrap admin token is printed at first start; an admin makes others with `iocgw token create --role ROLE`)',
    )
  }
  return token
}

/** Calls the API; answers the parsed JSON, or throws a CliError with the API's own message. */
export async function callApi<T>(method: string, path: string, body?: unknown, env: NodeJS.ProcessEnv = process.env): Promise<T> {
  const { bytes } = await callApiBytes(method, path, body, env, 'application/json')
  const text = bytes.toString('utf8')
  try {
    return (text ? JSON.parse(text) : undefined) as T
  } catch {
    return undefined as T
  }
}

/** Calls the API; answers the body's bytes (CSV, PDF, ...), or throws a CliError with the API's own message. */
/** Every item of a paged list (docs/api.md, pagination): 500 a request, following `next`. */
export async function listAll<T>(path: string): Promise<T[]> {
  const items: T[] = []
  let next: string | null = null
  do {
    const page: { items: T[]; next: string | null } = await callApi(
      'GET',
      `${path}?limit=500${next ? `&cursor=${encodeURIComponent(next)}` : ''}`,
    )
    items.push(...page.items)
    next = page.next
  } while (next)
  return items
}

export async function callApiBytes(
  method: string,
  path: string,
  body?: unknown,
  env: NodeJS.ProcessEnv = process.env,
  accept = '*/*',
): Promise<{ bytes: Buffer; type: string }> {
  const base = apiBaseUrl(env)
  const token = requireToken(env)
  let res: Response
  try {
    res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        accept,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    })
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') throw new CliError(`the gateway API at ${base} did not answer within 30 s`)
    const cause = (err as { cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } }).cause
    const why = cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? (err as Error).message
    throw new CliError(`cannot reach the gateway API at ${base}: is it running? (${why}; IOC_API_URL sets the address)`)
  }
  const bytes = Buffer.from(await res.arrayBuffer())
  if (!res.ok) {
    const text = bytes.toString('utf8')
    let parsed: unknown
    try {
      parsed = text ? JSON.parse(text) : undefined
    } catch {
      parsed = undefined
    }
    const msg = (parsed as { message?: unknown } | undefined)?.message
    throw new CliError(`${res.status} ${res.statusText || 'error'}: ${typeof msg === 'string' ? msg : text.slice(0, 200) || 'no details'}`)
  }
  return { bytes, type: res.headers.get('content-type') ?? '' }
}

/** Prints machine-readable output: one JSON document, nothing else on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

export function print(text: string): void {
  process.stdout.write(`${text}\n`)
}

/** The whole list at `path`: `{"items": [...], "next": null}` with --json, else a table of each item's `row` under `headers`. */
export async function printList<T>(
  path: string,
  json: boolean | undefined,
  headers: Readonly<Record<string, string>>,
  row: (item: T) => Record<string, unknown>,
): Promise<void> {
  const items = await listAll<T>(path)
  if (json) return printJson({ items, next: null })
  print(table(items.map(row), headers))
}
