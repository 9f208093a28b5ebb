import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadStations } from '../../gateway/domain/stations.ts'
import { spawnGateway } from '../support/gateway-process.ts'
import { tempDir } from '../support/services.ts'

// A decimal comma in config/stations.yaml (1,00 for 1.00, as Vietnamese writes it) must be named
// as such, whether YAML kept it as a string (block style) or split the number in a flow mapping.

const SHIPPED = readFileSync(new URL('../../config/stations.yaml', import.meta.url), 'utf8')
const dir = tempDir('iocgw-stations-')
afterAll(() => dir.remove())

let n = 0
function file(text: string): string {
  const p = join(dir.path, `stations-${++n}.yaml`)
  writeFileSync(p, text)
  return p
}

const loadError = (p: string): string => {
  try {
    loadStations(p)
  } catch (err) {
    return (err as Error).message
  }
  throw new Error('loaded without an error')
}

describe('stations.yaml with a decimal comma', () => {
  it('the shipped file loads', () => {
    expect(loadStations(file(SHIPPED)).alarmLevel('kim-long', 2.1)).toBe(2)
  })

  it('block style (YAML keeps "1,00" as a string): names the key, the value and the fix', () => {
    const p = file(SHIPPED.replace('levels: { I: 1.50, II: 3.00, III: 4.50 }', 'levels:\n      I: 1,50\n      II: 3.00\n      III: 4.50'))
    expect(loadError(p)).toMatch(
      new RegExp(`^${p}: stations\\.phu-oc\\.levels\\.I: "1,50" uses a decimal comma; write 1\\.50 \\(line \\d+\\)$`),
    )
  })

  it('flow mapping where the split makes a duplicate key (a YAML syntax error)', () => {
    const p = file(SHIPPED.replace('levels: { I: 1.00, II: 2.00, III: 3.50 }', 'levels: { I: 1,00, II: 2,00, III: 3,50 }'))
    const line = SHIPPED.split('\n').findIndex((l) => l.includes('levels: { I: 1.00, II: 2.00, III: 3.50 }')) + 1
    expect(loadError(p)).toBe(`${p}: stations.kim-long.levels.I: "1,00" uses a decimal comma; write 1.00 (line ${line})`)
  })

  it('flow mapping where the split only adds an odd key (a schema error), and other numeric keys', () => {
    const p = file(SHIPPED.replace('levels: { I: 59.00, II: 61.00, III: 63.00 }', 'levels: { I: 59.00, II: 61,5, III: 63.00 }'))
    expect(loadError(p)).toMatch(/: stations\.thuong-nhat\.levels\.II: "61,5" uses a decimal comma; write 61\.5 \(line \d+\)$/)
    const q = file(SHIPPED.replace('rise_alert_m_per_h: 0.3', 'rise_alert_m_per_h: 0,3'))
    expect(loadError(q)).toMatch(/: stations\.kim-long\.rise_alert_m_per_h: "0,3" uses a decimal comma; write 0\.3/)
  })

  it('flow sequence: the comma splits the number into two items', () => {
    const p = file(SHIPPED.replace('to_confirm: [I]', 'to_confirm: [1,5]'))
    expect(loadError(p)).toMatch(/: stations\.phu-oc\.to_confirm\[0\]: "1,5" uses a decimal comma; write 1\.5/)
  })

  it('other errors keep their own message', () => {
    const p = file(SHIPPED.replace('levels: { I: 1.00, II: 2.00, III: 3.50 }', 'levels: { I: 1.00, II: 2.00, IV: 3.50 }'))
    expect(loadError(p)).not.toMatch(/decimal comma/)
    // A comma inside a text value is not a number.
    const q = file(
      SHIPPED.replace('name: Kim Long', 'name: "Kim Long, sông Hương"').replace(
        'rise_window_s: 3600\n    rise_alert',
        'rise_window_s: 30\n    rise_alert',
      ),
    )
    expect(loadError(q)).toMatch(/rise_window_s/)
  })

  it('iocgw start refuses to start and says so in one line', async () => {
    const bad = file(SHIPPED.replace('levels: { I: 1.00, II: 2.00, III: 3.50 }', 'levels: { I: 1,00, II: 2,00, III: 3,50 }'))
    const config = join(dir.path, 'gateway.yaml')
    writeFileSync(config, `ingest:\n  stationsFile: ${bad}\n`)
    const gw = await spawnGateway({ dataDir: join(dir.path, 'data'), env: { IOC_CONFIG: config }, waitReady: false })
    const code = await gw.exited
    expect(code).not.toBe(0)
    expect(gw.output()).toContain(`stations.kim-long.levels.I: "1,00" uses a decimal comma; write 1.00`)
  }, 60_000)
})
