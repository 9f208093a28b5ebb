import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../gateway/config/load.ts'
import { createLogger } from '../../gateway/log/logger.ts'
import { Metrics } from '../../gateway/metrics/registry.ts'
import { InfluxTimeSeriesStore } from '../../gateway/store/influx/store.ts'
import { targetLayouts } from '../../gateway/store/influx/targets.ts'
import { StoreError } from '../../gateway/store/types.ts'
import { configDir, errorOf, yamlFile } from './support.ts'

// influx.urls (several InfluxDB servers, docs/operations.md "InfluxDB pair"): exactly one of
// influx.url and influx.urls, each URL naming a database, and a clear error otherwise.

describe('influx.urls', () => {
  it('takes a list of servers', () => {
    const c = loadConfig({ file: yamlFile('influx:\n  urls:\n    - http://influx-a:8086/ioc\n    - http://influx-b:8086/ioc\n'), env: {} })
    expect(c.influx.urls).toEqual(['http://influx-a:8086/ioc', 'http://influx-b:8086/ioc'])
    expect(c.influx.url).toBeUndefined()
  })

  it('refuses influx.url and influx.urls together, naming both keys (from the file or IOC_INFLUX_URL)', () => {
    const both = 'influx:\n  url: http://influx-a:8086/ioc\n  urls: [http://influx-a:8086/ioc, http://influx-b:8086/ioc]\n'
    expect(errorOf(() => loadConfig({ file: yamlFile(both), env: {} }))).toMatch(
      /^config: influx\.url and influx\.urls are both set: give one InfluxDB as influx\.url \(IOC_INFLUX_URL\) or several as influx\.urls, not both \(in .*\)$/,
    )
    const list = yamlFile('influx:\n  urls: [http://influx-a:8086/ioc, http://influx-b:8086/ioc]\n')
    expect(errorOf(() => loadConfig({ file: list, env: { IOC_INFLUX_URL: 'http://influx-c:8086/ioc' } }))).toMatch(
      /influx\.url and influx\.urls are both set/,
    )
  })

  it('names the bad entry: not a URL, no database, empty list, a server listed twice', () => {
    expect(errorOf(() => loadConfig({ file: yamlFile('influx:\n  urls: [http://influx-a:8086/ioc, influx-b:8086]\n'), env: {} }))).toMatch(
      /^config: influx\.urls\.1: must match pattern/,
    )
    expect(errorOf(() => loadConfig({ file: yamlFile('influx:\n  urls: [http://influx-a:8086]\n'), env: {} }))).toMatch(
      /^config: influx\.urls\.0: must match pattern/,
    )
    expect(errorOf(() => loadConfig({ file: yamlFile('influx:\n  urls: []\n'), env: {} }))).toMatch(
      /^config: influx\.urls: must not have fewer than 1 items/,
    )
    expect(errorOf(() => loadConfig({ file: yamlFile('influx:\n  urls: [http://a:8086/ioc, http://a:8086/ioc]\n'), env: {} }))).toMatch(
      /^config: influx\.urls: must not have duplicate items/,
    )
    // The same database written two ways is caught when the store opens.
    expect(errorOf(() => targetLayouts(['http://a/ioc', 'http://a:8086/ioc/'], configDir), StoreError)).toBe(
      'influx.urls[1] names the same database as influx.urls[0] (a:8086/ioc)',
    )
  })

  it('keeps the single-server journal layout for one URL, one folder per server for several', () => {
    const one = targetLayouts(['http://user:pw@a:8086/ioc'], join(configDir, 'one'))
    expect(one).toMatchObject([
      { name: 'a:8086/ioc', spoolDir: join(configDir, 'one', 'influx-spool'), spillDir: join(configDir, 'one', 'influx-spill') },
    ])
    const two = targetLayouts(['http://a:8086/ioc', 'https://b/ioc'], join(configDir, 'two'))
    expect(two.map((t) => [t.name, t.spoolDir, t.lateFile])).toEqual([
      [
        'a:8086/ioc',
        join(configDir, 'two', 'influx-spool', 'a_8086_ioc'),
        join(configDir, 'two', 'influx-late-rollups', 'a_8086_ioc.jsonl'),
      ],
      ['b:443/ioc', join(configDir, 'two', 'influx-spool', 'b_443_ioc'), join(configDir, 'two', 'influx-late-rollups', 'b_443_ioc.jsonl')],
    ])
  })

  it('refuses to start past points left undelivered in the other layout, saying where', async () => {
    const data = join(configDir, 'stranded')
    mkdirSync(join(data, 'influx-spool'), { recursive: true })
    writeFileSync(join(data, 'influx-spool', '0000000000000001.seg'), Buffer.alloc(40, 1))
    const open = InfluxTimeSeriesStore.open({
      urls: ['http://127.0.0.1:9/ioc', 'http://127.0.0.1:10/ioc'],
      dataDir: data,
      logger: createLogger('silent'),
      metrics: new Metrics({ defaults: false }),
    })
    await expect(open).rejects.toThrow(
      /influx-spool \(the single InfluxDB of influx\.url\) holds points acknowledged and not yet delivered/,
    )
  })
})
