import { Compile } from 'typebox/compile'
import Value from 'typebox/value'
import type { Logger } from '../../gateway/log/logger.ts'
import { startCameraAgent, type CameraAgent } from './agent.ts'
import { CameraDriverSchema, checkCameraSource, type CameraDriverConfig } from './config.ts'

const check = Compile(CameraDriverSchema)

/** Checks an edge config's `driver:` section for a camera; throws one line naming the key. */
export function parseCameraDriver(raw: unknown): CameraDriverConfig {
  const withDefaults = Value.Default(CameraDriverSchema, structuredClone(raw ?? {}))
  if (!check.Check(withDefaults)) {
    const errs = [...check.Errors(withDefaults)]
    // typebox reports an unknown key twice: as additionalProperties and as a `false` schema at its path.
    const e = errs.find((x) => x.keyword !== 'boolean' && x.keyword !== 'anyOf') ?? errs[0]
    if (e?.keyword === 'boolean') throw new Error(`driver.${e.instancePath.split('/').filter(Boolean).join('.')} is not a known key`)
    const path = ['driver', ...(e?.instancePath.split('/').filter(Boolean) ?? [])].join('.')
    if (e?.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperties?: string[] }).additionalProperties?.[0]
      throw new Error(`${path}.${extra ?? '?'} is not a known key`)
    }
    throw new Error(`${path} ${e?.message ?? 'is not valid'}`)
  }
  const problem = checkCameraSource(withDefaults)
  if (problem) throw new Error(problem)
  return withDefaults
}

/**
 * What `iocgw edge` calls when `driver.type` is `camera`: the device and MQTT settings come from
 * the agent's own (already checked) config, the driver section is checked here.
 */
export function startCameraFromEdgeConfig(
  cfg: { device: { id: string; fw?: string | undefined }; password: string; mqtt: { url: string; ca_file?: string | undefined }; driver: unknown },
  logger: Logger,
): Promise<CameraAgent> {
  const driver = parseCameraDriver(cfg.driver)
  return startCameraAgent({
    deviceId: cfg.device.id,
    password: cfg.password,
    mqttUrl: cfg.mqtt.url,
    caFile: cfg.mqtt.ca_file,
    fw: cfg.device.fw,
    driver,
    logger,
  })
}
