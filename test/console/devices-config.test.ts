import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { afterAll, describe, expect, it } from 'vitest'
import { loadEdgeRunConfig } from '../../edge/config.ts'
import { edgeConfig, edgeConfigFileName, qrText } from '../../gateway/console/web/src/devices.ts'
import { tempDir } from '../support/services.ts'

// What the Devices page makes from a device's one-time credentials (docs/console.md, "Devices"):
// the QR code's JSON and the edge config file, read back by the edge agent's own loader.

const dir = tempDir('iocgw-console-edgecfg-')
afterAll(() => dir.remove())

const cred = { username: 'kim-long-01', password: 'a"b\\c: #d\' -e', mqtt_url: 'mqtts://gw.example.vn:8883' }

describe('the edge config file and QR text of the Devices page', () => {
  it('QR text is the documented JSON with exactly mqtt_url, username, password', () => {
    const text = qrText(cred)
    expect(text).toBe(`{"mqtt_url":"mqtts://gw.example.vn:8883","username":"kim-long-01","password":${JSON.stringify(cred.password)}}`)
  })

  it('a camera file loads as a camera agent with the id, secret and URL intact, whatever the name', async () => {
    const file = join(dir.path, edgeConfigFileName('cam-01'))
    writeFileSync(
      file,
      edgeConfig({ id: 'cam-01', kind: 'camera', name: 'Cầu "Trường Tiền"\n# not: a key' }, { ...cred, username: 'cam-01' }),
    )
    const loaded = await loadEdgeRunConfig(file, {})
    if (loaded.kind !== 'camera') throw new Error(`loaded as ${loaded.kind}`)
    expect(loaded.base.device.id).toBe('cam-01')
    expect(loaded.base.password).toBe(cred.password)
    expect(loaded.base.mqtt.url).toBe(cred.mqtt_url)
    expect(loaded.base.queue.path).toBe(join(dir.path, 'edge-data', 'cam-01.db'))
  })

  it('a gauge file holds the credentials and stops the agent until its transmitter is filled in', async () => {
    const file = join(dir.path, edgeConfigFileName('kim-long-01'))
    const text = edgeConfig({ id: 'kim-long-01', kind: 'water_level', name: 'Trạm Kim Long' }, cred)
    writeFileSync(file, text)
    const raw = parseYaml(text) as { device: { id: string; password: string }; mqtt: { url: string }; driver: { type: string } }
    expect(raw.device).toEqual({ id: 'kim-long-01', password: cred.password })
    expect(raw.mqtt.url).toBe(cred.mqtt_url)
    expect(raw.driver.type).toBe('modbus-tcp')
    await expect(loadEdgeRunConfig(file, {})).rejects.toThrow(/driver.*host/)
  })
})
