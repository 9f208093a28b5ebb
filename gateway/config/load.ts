import { existsSync, readFileSync } from 'node:fs'
import Value from 'typebox/value'
import { parse as parseYaml } from 'yaml'
import { ConfigSchema, ENV_KEYS, flagName, keyType, type GatewayConfig } from './schema.ts'
import { schemaProblem } from '../util/schema-error.ts'

/** A configuration problem, phrased as the one line that start-up prints. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

export interface LoadOptions {
  /** YAML file; default IOC_CONFIG, else config/gateway.yaml when it exists. */
  file?: string | undefined
  env?: NodeJS.ProcessEnv
  /** Already-parsed CLI flags as dotted keys, e.g. {"http.port": "9000"}. Highest precedence. */
  flags?: Record<string, string | number | undefined>
}

type Tree = Record<string, unknown>

function setPath(tree: Tree, dotted: string, value: unknown): void {
  const parts = dotted.split('.')
  let node = tree
  for (const part of parts.slice(0, -1)) {
    const next = node[part]
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {}
    node = node[part] as Tree
  }
  node[parts[parts.length - 1] as string] = value
}

function coerce(key: string, raw: string | number, type: 'string' | 'integer', source: string): string | number {
  if (type === 'string') return String(raw)
  const n = typeof raw === 'number' ? raw : Number(raw)
  if (!Number.isInteger(n)) throw new ConfigError(`config: ${key}: "${raw}" from ${source} is not a whole number`)
  return n
}

function readFile(file: string): Tree {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`config: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (err) {
    throw new ConfigError(`config: ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`)
  }
  if (doc === null || doc === undefined) return {}
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config: ${file} must hold a mapping at the top level`)
  return doc as Tree
}

/**
 * `${NAME}` in a string value of the file is replaced by the environment variable NAME, so that
 * provider keys and tokens can stay out of the file (as Telegraf and docker-compose do).
 */
function expandEnv(node: unknown, env: NodeJS.ProcessEnv, path: string, file: string): unknown {
  if (typeof node === 'string') {
    return node.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const v = env[name]
      if (v === undefined) throw new ConfigError(`config: ${path}: environment variable ${name} (named in ${file}) is not set`)
      return v
    })
  }
  if (Array.isArray(node)) return node.map((v, i) => expandEnv(v, env, `${path}[${i}]`, file))
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, expandEnv(v, env, path ? `${path}.${k}` : k, file)]))
  }
  return node
}

/**
 * Builds the configuration: defaults < YAML file < environment < flags. Throws ConfigError with
 * one line naming the key and what is wrong.
 */
export function loadConfig(opts: LoadOptions = {}): GatewayConfig {
  const env = opts.env ?? process.env
  const file = opts.file ?? env.IOC_CONFIG ?? (existsSync('config/gateway.yaml') ? 'config/gateway.yaml' : undefined)
  const tree: Tree = file ? (expandEnv(readFile(file), env, '', file) as Tree) : {}
  for (const { env: name, key, type } of ENV_KEYS) {
    const raw = env[name]
    if (raw !== undefined && raw !== '') setPath(tree, key, coerce(key, raw, type, name))
  }
  for (const [key, raw] of Object.entries(opts.flags ?? {})) {
    if (raw === undefined) continue
    setPath(tree, key, coerce(key, raw, keyType(key) ?? (typeof raw === 'number' ? 'integer' : 'string'), `flag ${flagName(key)}`))
  }
  const withDefaults = Value.Default(ConfigSchema, tree)
  const first = schemaProblem(Value.Errors(ConfigSchema, withDefaults), { root: '(top level)', skip: ['boolean'] })
  if (first) {
    const where = file ? ` (in ${file}, environment or flags)` : ''
    throw new ConfigError(`config: ${first.key}: ${first.message}${where}`)
  }
  const config = withDefaults as GatewayConfig
  if (config.influx.url !== undefined && config.influx.urls !== undefined) {
    const where = file ? ` (in ${file}, environment or flags)` : ''
    throw new ConfigError(
      `config: influx.url and influx.urls are both set: give one InfluxDB as influx.url (IOC_INFLUX_URL) or several as influx.urls, not both${where}`,
    )
  }
  return config
}
