// MQTT over TLS when a certificate and key are configured.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { createBroker } from '../../gateway/broker/index.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { openRegistry } from '../../gateway/registry/sqlite.ts'
import { selfSignedCert } from '../support/certs.ts'
import { requireCommand, tempDir } from '../support/services.ts'
import { actor } from './harness.ts'

const HAVE = requireCommand('openssl')
const dir = tempDir('iocgw-tls-')
afterAll(() => dir.remove())

describe.skipIf(!HAVE)('MQTT over TLS', () => {
  it('accepts a device with credentials over TLS and refuses a wrong secret there', async () => {
    const { cert, key } = selfSignedCert(dir.path)
    const registry = openRegistry(join(dir.path, 'data'))
    const broker = await createBroker({
      registry,
      metrics: new Metrics({ defaults: false }),
      logger: createLogger('silent'),
      routes: {},
      config: { host: '127.0.0.1', port: 0, wsPort: 0, wsPath: '/mqtt', tlsPort: 0, tls: { cert, key } },
    })
    try {
      const ports = await broker.listen()
      expect(ports.tls).toBeGreaterThan(0)
      const { secret } = await registry.createDevice({ id: 'tls-dev-01', kind: 'rain_gauge', name: 'Mưa A Lưới' }, actor)
      const opts = {
        username: 'tls-dev-01',
        clientId: 'tls-dev-01',
        protocolVersion: 4 as const,
        reconnectPeriod: 0,
        ca: readFileSync(cert),
      }
      const c = await mqtt.connectAsync(`mqtts://127.0.0.1:${ports.tls}`, { ...opts, password: secret })
      await c.publishAsync('devices/tls-dev-01/telemetry', '{"values":{"rainfall":1.5,"interval_s":600}}', { qos: 1 })
      await c.endAsync()
      await expect(mqtt.connectAsync(`mqtts://127.0.0.1:${ports.tls}`, { ...opts, password: 'nope-nope' })).rejects.toMatchObject({
        code: 4,
      })
    } finally {
      await broker.close()
      await registry.close()
    }
  })
})
