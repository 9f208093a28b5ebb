import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../gateway/config/load.ts'
import { ROOT } from '../support/gateway-process.ts'
import { configDir, errorOf, yamlFile } from './support.ts'

describe('configuration', () => {
  it('defaults < file < environment < flags', () => {
    const file = yamlFile('http:\n  port: 9001\nmqtt:\n  port: 2883\nserver:\n  logLevel: debug\n')
    expect(loadConfig({ file: undefined, env: {} }).http.port).toBe(8080)
    const fromFile = loadConfig({ file, env: {} })
    expect([fromFile.http.port, fromFile.mqtt.port, fromFile.server.logLevel]).toEqual([9001, 2883, 'debug'])
    const fromEnv = loadConfig({ file, env: { IOC_HTTP_PORT: '9002' } })
    expect([fromEnv.http.port, fromEnv.mqtt.port]).toEqual([9002, 2883])
    const fromFlags = loadConfig({ file, env: { IOC_HTTP_PORT: '9002' }, flags: { 'http.port': '9003' } })
    expect(fromFlags.http.port).toBe(9003)
  })

  it('reads every environment name of README.md', () => {
    const c = loadConfig({
      file: undefined,
      env: {
        IOC_DATA_DIR: '/var/lib/iocgw',
        IOC_HTTP_PORT: '1',
        IOC_MQTT_PORT: '2',
        IOC_MQTT_WS_PORT: '3',
        IOC_INFLUX_URL: 'http://127.0.0.1:8086/ioc',
        IOC_ADMIN_TOKEN: 'a-bootstrap-token-1234',
        IOC_MODELS_DIR: '/m',
        IOC_LOG_LEVEL: 'warn',
      },
    })
    expect(c.server).toEqual({ dataDir: '/var/lib/iocgw', logLevel: 'warn' })
    expect([c.http.port, c.mqtt.port, c.mqtt.wsPort]).toEqual([1, 2, 3])
    expect(c.influx.url).toBe('http://127.0.0.1:8086/ioc')
    expect(c.auth.adminToken).toBe('a-bootstrap-token-1234')
    expect(c.models.dir).toBe('/m')
  })

  it('the shipped config/gateway.yaml is valid and holds the defaults', () => {
    const shipped = loadConfig({ file: join(ROOT, 'config', 'gateway.yaml'), env: {} })
    expect(shipped).toEqual(loadConfig({ file: undefined, env: {} }))
  })

  it('takes the time-series store tuning from influx: and timeseries:, and names a bad key', () => {
    const c = loadConfig({
      file: yamlFile('influx:\n  maxInflight: 4\n  batchPoints: 10000\ntimeseries:\n  retentionDays: 30\n  synchronous: NORMAL\n'),
      env: {},
    })
    expect(c.influx).toEqual({ maxInflight: 4, batchPoints: 10000 })
    expect(c.timeseries).toEqual({ retentionDays: 30, synchronous: 'NORMAL' })
    expect(errorOf(() => loadConfig({ file: yamlFile('timeseries:\n  retentionDays: 0\n'), env: {} }))).toMatch(
      /^config: timeseries\.retentionDays: must be >= 1/,
    )
    expect(errorOf(() => loadConfig({ file: yamlFile('influx:\n  maxInflight: 100\n'), env: {} }))).toMatch(
      /^config: influx\.maxInflight: must be <= 64/,
    )
  })

  it('a bad value names the key in one line', () => {
    expect(errorOf(() => loadConfig({ file: undefined, env: { IOC_HTTP_PORT: '70000' } }))).toMatch(/^config: http\.port: must be <= 65535/)
    expect(errorOf(() => loadConfig({ file: undefined, env: { IOC_MQTT_PORT: 'x' } }))).toMatch(
      /^config: mqtt\.port: "x" from IOC_MQTT_PORT is not a whole number$/,
    )
    expect(errorOf(() => loadConfig({ file: undefined, env: { IOC_INFLUX_URL: 'influx:8086' } }))).toMatch(
      /^config: influx\.url: must match pattern/,
    )
    expect(errorOf(() => loadConfig({ file: yamlFile('mqtt:\n  prot: 1\n'), env: {} }))).toMatch(
      /^config: mqtt\.prot: must not have additional properties/,
    )
    expect(errorOf(() => loadConfig({ file: yamlFile('server:\n  logLevel: loud\n'), env: {} }))).toMatch(
      /^config: server\.logLevel: must be one of fatal, error, warn, info, debug, trace, silent/,
    )
    expect(errorOf(() => loadConfig({ file: yamlFile('http: [1, 2\n'), env: {} }))).toMatch(/is not valid YAML/)
    expect(errorOf(() => loadConfig({ file: join(configDir, 'missing.yaml'), env: {} }))).toMatch(/cannot read .*missing\.yaml: ENOENT/)
    for (const msg of [errorOf(() => loadConfig({ file: yamlFile('- 1\n'), env: {} }))]) expect(msg.split('\n')).toHaveLength(1)
  })
})

describe('secrets from the environment', () => {
  it('replaces ${NAME} in file values and names the key when the variable is missing', () => {
    const file = yamlFile(
      'notify:\n  smsProvider: esms\n  esms:\n    url: https://rest.esms.vn/MainService.svc/json/SendMultipleMessage_V4_post_json/\n    apiKey: ${ESMS_API_KEY}\n    secretKey: "${ESMS_SECRET}"\n    brandname: IOCHUE\n',
    )
    const c = loadConfig({ file, env: { ESMS_API_KEY: 'k-123', ESMS_SECRET: 's-456' } })
    expect(c.notify.esms).toMatchObject({ apiKey: 'k-123', secretKey: 's-456' })
    expect(errorOf(() => loadConfig({ file, env: { ESMS_API_KEY: 'k-123' } }))).toBe(
      `config: notify.esms.secretKey: environment variable ESMS_SECRET (named in ${file}) is not set`,
    )
  })
})
