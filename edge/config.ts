import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import Type, { type Static, type TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import Value from 'typebox/value'
import { parse as parseYaml } from 'yaml'
import { DRIVERS } from './drivers/index.ts'
import type { DriverPlugin } from './drivers/types.ts'
import { schemaProblem } from '../gateway/util/schema-error.ts'

// The edge agent's configuration (config/edge.example.yaml). Checked in full before anything
// starts; a problem stops start-up with one line naming the key.

export const EdgeConfigSchema = Type.Object(
  {
    device: Type.Object(
      {
        id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{2,63}$' }),
        /** The device secret; or leave it out and set `password_env`. */
        password: Type.Optional(Type.String({ minLength: 1 })),
        /** Environment variable holding the secret (keeps it out of the file). */
        password_env: Type.Optional(Type.String({ pattern: '^[A-Z_][A-Z0-9_]*$' })),
        fw: Type.String({ default: 'iocgw-edge/0.1.0' }),
      },
      { additionalProperties: false },
    ),
    mqtt: Type.Object(
      {
        url: Type.String({ pattern: '^(mqtts?|wss?)://' }),
        keepalive_s: Type.Integer({ minimum: 5, maximum: 3600, default: 30 }),
        /** Wait this long for a PUBACK before treating the link as broken. */
        ack_timeout_ms: Type.Integer({ minimum: 500, maximum: 300_000, default: 15_000 }),
        reconnect_ms: Type.Integer({ minimum: 100, maximum: 300_000, default: 2000 }),
        /** CA file for mqtts:// with a private CA. */
        ca_file: Type.Optional(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false },
    ),
    /** Sampling interval; the gateway may change it on devices/{id}/config. */
    interval_s: Type.Number({ minimum: 0.05, maximum: 86_400, default: 60 }),
    status_interval_s: Type.Number({ minimum: 1, maximum: 86_400, default: 60 }),
    queue: Type.Object(
      {
        /** SQLite file; relative paths are relative to the config file. */
        path: Type.String({ minLength: 1, default: './edge-data/queue.db' }),
        max_readings: Type.Integer({ minimum: 10, maximum: 100_000_000, default: 1_000_000 }),
        max_age_days: Type.Number({ exclusiveMinimum: 0, maximum: 3650, default: 7 }),
        /** Readings per replayed message (array payload). */
        batch_size: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
      },
      { additionalProperties: false, default: {} },
    ),
    driver: Type.Object({ type: Type.String({ minLength: 1 }) }, { additionalProperties: true }),
  },
  { additionalProperties: false },
)
export type EdgeConfig = Static<typeof EdgeConfigSchema> & { password: string; driverPlugin: DriverPlugin<unknown> }

function firstError(schema: TSchema, value: unknown, prefix: string): string {
  const e = schemaProblem(Compile(schema).Errors(value), { prefix, unknown: 'is not a known key', required: true })
  return e ? `${e.key} ${e.message}` : `${prefix} is not valid`
}

/** The agent's own settings (device, MQTT, queue, secret), checked; the driver section is left to its plugin. */
export type EdgeBase = Omit<EdgeConfig, 'driverPlugin'>

function checkEdgeBase(raw: unknown, baseDir: string, env: NodeJS.ProcessEnv): EdgeBase {
  const withDefaults = Value.Default(EdgeConfigSchema, structuredClone(raw ?? {}))
  if (!Compile(EdgeConfigSchema).Check(withDefaults)) throw new Error(firstError(EdgeConfigSchema, withDefaults, ''))
  const cfg = withDefaults as Static<typeof EdgeConfigSchema>
  let password = cfg.device.password
  if (password === undefined && cfg.device.password_env) password = env[cfg.device.password_env]
  if (!password) {
    throw new Error(
      cfg.device.password_env
        ? `device.password_env: environment variable ${cfg.device.password_env} is not set`
        : 'device.password or device.password_env is required (the secret given when the device was registered)',
    )
  }
  return {
    ...cfg,
    queue: { ...cfg.queue, path: resolve(baseDir, cfg.queue.path) },
    mqtt: { ...cfg.mqtt, ...(cfg.mqtt.ca_file ? { ca_file: resolve(baseDir, cfg.mqtt.ca_file) } : {}) },
    password,
  }
}

/** Checks a parsed config; throws one line naming the key. */
export async function checkEdgeConfig(raw: unknown, baseDir: string, env: NodeJS.ProcessEnv = process.env): Promise<EdgeConfig> {
  const base = checkEdgeBase(raw, baseDir, env)
  const load = DRIVERS[base.driver.type]
  if (!load)
    throw new Error(`driver.type "${base.driver.type}" is not a driver; choose one of ${[...Object.keys(DRIVERS), 'camera'].join(', ')}`)
  const plugin = (await load()).default as DriverPlugin<unknown>
  const driver = Value.Default(plugin.schema, structuredClone(base.driver))
  if (!Compile(plugin.schema).Check(driver)) throw new Error(firstError(plugin.schema, driver, 'driver'))
  return { ...base, driver: driver as typeof base.driver, driverPlugin: plugin }
}

/** A camera streams frames instead of sampling values: edge/camera checks its own driver section. */
function isCameraConfig(raw: unknown): boolean {
  return (raw as { driver?: { type?: unknown } } | null)?.driver?.type === 'camera'
}

export async function loadEdgeConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<EdgeConfig> {
  const loaded = await loadEdgeRunConfig(file, env)
  if (loaded.kind === 'camera') throw new Error(`${file}: driver.type "camera" runs a camera agent, not a sampling agent`)
  return loaded.config
}

/** What `iocgw edge` runs: a sampling agent (sensor drivers) or a camera agent. */
export type EdgeRunConfig = { kind: 'sensor'; config: EdgeConfig } | { kind: 'camera'; base: EdgeBase }

export async function loadEdgeRunConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<EdgeRunConfig> {
  let raw: unknown
  try {
    raw = parseYaml(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message.split('\n')[0]}`, { cause: err })
  }
  const baseDir = dirname(resolve(file))
  try {
    if (isCameraConfig(raw)) return { kind: 'camera', base: checkEdgeBase(raw, baseDir, env) }
    return { kind: 'sensor', config: await checkEdgeConfig(raw, baseDir, env) }
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`, { cause: err })
  }
}
