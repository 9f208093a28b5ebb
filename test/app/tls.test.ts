import { readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { selfSignedCert } from '../support/certs.ts'
import { spawnGateway, stopGateway } from '../support/gateway-process.ts'
import { freePort, requireCommand, tempDir } from '../support/services.ts'

const hasOpenssl = requireCommand('openssl')

function httpsGet(url: string, ca: Buffer, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe.runIf(hasOpenssl)('TLS for MQTT (8883) and HTTPS, switched on by a certificate and key in the config', () => {
  const dir = tempDir()
  afterAll(() => dir.remove())

  it('serves the API over HTTPS and devices over MQTT/TLS', async () => {
    const { cert, key } = selfSignedCert(dir.path)
    const tlsPort = await freePort()
    const configFile = join(dir.path, 'gateway.yaml')
    writeFileSync(
      configFile,
      `http:\n  tls: { cert: ${cert}, key: ${key} }\nmqtt:\n  tlsPort: ${tlsPort}\n  tls: { cert: ${cert}, key: ${key} }\n`,
    )
    const token = 'tls-test-admin-token-0123456789'
    const gw = await spawnGateway({ dataDir: join(dir.path, 'data'), env: { IOC_CONFIG: configFile, IOC_ADMIN_TOKEN: token } })
    try {
      expect(gw.output()).toContain(`https://127.0.0.1:${gw.ports.http}/api/v1`)
      expect(gw.output()).toContain(`mqtts://127.0.0.1:${tlsPort}`)
      const ca = readFileSync(cert)
      const created = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          `https://127.0.0.1:${gw.ports.http}/api/v1/devices`,
          {
            method: 'POST',
            ca,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          },
          (res) => {
            let body = ''
            res.on('data', (d: Buffer) => (body += d.toString()))
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
          },
        )
        req.on('error', reject)
        req.end(JSON.stringify({ id: 'tls-gauge-01', kind: 'water_level', name: 'TLS gauge' }))
      })
      expect(created.status).toBe(201)
      const { credentials } = JSON.parse(created.body) as { credentials: { username: string; password: string } }
      expect((await httpsGet(`https://127.0.0.1:${gw.ports.http}/healthz`, ca, token)).status).toBe(200)

      const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${tlsPort}`, {
        username: credentials.username,
        password: credentials.password,
        clientId: credentials.username,
        ca,
        servername: 'localhost',
        reconnectPeriod: 0,
      })
      expect(client.connected).toBe(true)
      await client.endAsync()
      // Plain HTTP on the HTTPS port is not served.
      await expect(fetch(`http://127.0.0.1:${gw.ports.http}/healthz`)).rejects.toThrow()
    } finally {
      await stopGateway(gw)
    }
  })
})
