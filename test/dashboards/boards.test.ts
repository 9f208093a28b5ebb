import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Compile } from 'typebox/compile'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { AQI_BANDS, rgbHex } from '../../dashboards/boards/air-quality.ts'
import { DEFAULT_OUT_DIR } from '../../dashboards/build.ts'
import { buildBoards, serialize } from '../../dashboards/index.ts'
import { DATASOURCE_UID } from '../../dashboards/lib/influxql.ts'
import { readStations } from '../../dashboards/lib/stations.ts'
import Value from 'typebox/value'
import {
  DashboardSchema,
  GraphCustomSchema,
  PANEL_OPTIONS,
  ThresholdsConfigSchema,
  ValueMappingSchema,
  type DashboardJson,
} from '../../dashboards/schema.ts'
import Type, { type TSchema } from 'typebox'
import { allPanels, boardQueries } from './queries.ts'

const check = Compile(DashboardSchema)
const { boards } = buildBoards()
const asJson = (b: (typeof boards)[number]) => JSON.parse(serialize(b.json)) as DashboardJson

describe('built boards', () => {
  it('are the five boards with stable uids and Vietnamese titles', () => {
    expect(boards.map((b) => [b.uid, b.title])).toEqual([
      ['ioc-operations', 'Tổng quan điều hành'],
      ['ioc-flood', 'Lũ lụt'],
      ['ioc-traffic', 'Giao thông'],
      ['ioc-air-quality', 'Chất lượng không khí'],
      ['ioc-device-health', 'Tình trạng thiết bị'],
    ])
  })

  for (const b of boards) {
    describe(b.uid, () => {
      const json = asJson(b)

      it('is valid dashboard JSON (Grafana schema v1 model)', () => {
        const errors = [...check.Errors(json)].map((e) => `${e.instancePath} ${e.message}`)
        expect(errors).toEqual([])
      })

      it("gives every panel the options its type requires and override values of Grafana's schema", () => {
        const errs: string[] = []
        const checkValue = (where: string, schema: TSchema, v: unknown) => {
          if (!Value.Check(schema, v))
            errs.push(`${where}: ${[...Value.Errors(schema, v)].map((e) => `${e.instancePath} ${e.message}`).join('; ')}`)
        }
        for (const p of allPanels(json)) {
          const options = PANEL_OPTIONS[p.type]
          expect(options, `no options schema for ${p.type}`).toBeDefined()
          checkValue(`${p.title} options`, options!, p.options)
          for (const o of p.fieldConfig.overrides) {
            for (const prop of o.properties) {
              const where = `${p.title} override ${String(o.matcher.options)} ${prop.id}`
              if (prop.id === 'thresholds') checkValue(where, ThresholdsConfigSchema, prop.value)
              else if (prop.id === 'mappings') checkValue(where, Type.Array(ValueMappingSchema), prop.value)
              else if (prop.id.startsWith('custom.')) checkValue(where, GraphCustomSchema, { [prop.id.slice(7)]: prop.value })
              else if (!['displayName', 'links', 'unit', 'min', 'max', 'decimals'].includes(prop.id))
                errs.push(`${where}: unchecked property`)
            }
          }
        }
        expect(errs).toEqual([])
      })

      it('has unique panel ids and non-overlapping grid positions inside 24 columns', () => {
        const panels = allPanels(json, true)
        const ids = panels.map((p) => p.id)
        expect(new Set(ids).size).toBe(ids.length)
        const cells = new Set<string>()
        for (const p of panels) {
          const { x, y, w, h } = p.gridPos
          expect(x + w, `${p.title} crosses the grid`).toBeLessThanOrEqual(24)
          for (let i = x; i < x + w; i++) {
            for (let j = y; j < y + h; j++) {
              const key = `${i},${j}`
              expect(cells.has(key), `${p.title} overlaps another panel at ${key}`).toBe(false)
              cells.add(key)
            }
          }
        }
      })

      it('describes the board and every panel in Vietnamese and English', () => {
        for (const d of [json.description, ...allPanels(json).map((p) => p.description)]) {
          const [vi, en, ...rest] = d.split('\n\n')
          expect(rest).toEqual([])
          expect(vi!.length).toBeGreaterThan(10)
          expect(en!.length).toBeGreaterThan(10)
          expect(vi).toMatch(/[àáảãạăắằẳẵặâấầẩẫậđèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵ]/i)
        }
      })

      it('queries only the provisioned InfluxDB data source, with defined variables', () => {
        const defined = new Set(json.templating.list.map((v) => v.name))
        const queries = boardQueries(json)
        expect(queries.length).toBeGreaterThan(0)
        for (const q of queries) {
          expect(q.datasource).toEqual({ type: 'influxdb', uid: DATASOURCE_UID })
          for (const m of q.query.matchAll(/\$\{?([a-zA-Z_]\w*)/g)) {
            const name = m[1]!
            if (['timeFilter', '__interval', '__interval_ms', 'col'].includes(name) || name.startsWith('tag_')) continue
            expect(defined.has(name), `${q.where}: $${name} is not a variable of ${json.uid}`).toBe(true)
          }
        }
      })
    })
  }

  it("flood board draws each station's alarm levels from the stations file", () => {
    const flood = asJson(boards.find((b) => b.uid === 'ioc-flood')!)
    const { stations } = readStations()
    const kimLong = stations.find((s) => s.id === 'kim-long')!
    expect(kimLong.levels).toEqual([1, 2, 3.5])
    const panel = allPanels(flood).find((p) => p.title.startsWith('Kim Long'))!
    expect(panel.fieldConfig.defaults.thresholds?.steps).toEqual([
      { value: null, color: 'green' },
      { value: 1, color: 'yellow' },
      { value: 2, color: 'orange' },
      { value: 3.5, color: 'red' },
    ])
    expect(panel.fieldConfig.defaults.custom?.thresholdsStyle).toEqual({ mode: 'line+area' })
    // The combined chart carries every station's lines as a per-series override.
    const combined = allPanels(flood).find((p) => p.title === 'Mực nước theo trạm')!
    const byName = Object.fromEntries(combined.fieldConfig.overrides.map((o) => [o.matcher.options, o.properties]))
    expect(Object.keys(byName).sort()).toEqual(
      stations
        .filter((s) => s.levels.some((l) => l !== null))
        .map((s) => s.id)
        .sort(),
    )
    expect(JSON.stringify(byName['thuong-nhat'])).toContain('"value":63')
  })

  it('air quality board uses the official VN_AQI band colours (Decision 1459/QĐ-TCMT)', () => {
    expect(AQI_BANDS.map((b) => rgbHex(b.rgb))).toEqual(['#00E400', '#FFFF00', '#FF7E00', '#FF0000', '#8F3F97', '#7E0023'])
    const air = asJson(boards.find((b) => b.uid === 'ioc-air-quality')!)
    const stat = allPanels(air).find((p) => p.title === 'VN_AQI hiện tại')!
    expect(stat.fieldConfig.defaults.thresholds?.steps).toEqual([
      { value: null, color: '#00E400' },
      { value: 51, color: '#FFFF00' },
      { value: 101, color: '#FF7E00' },
      { value: 151, color: '#FF0000' },
      { value: 201, color: '#8F3F97' },
      { value: 301, color: '#7E0023' },
    ])
  })

  it('traffic board links each camera to its snapshot route', () => {
    const traffic = asJson(boards.find((b) => b.uid === 'ioc-traffic')!)
    expect(JSON.stringify(traffic)).toContain('${gateway_url}/api/v1/cameras/${__value.raw}/snapshot')
  })

  it('committed build output equals a fresh build (run `iocgw dashboards build` after changing boards)', () => {
    const dir = DEFAULT_OUT_DIR
    const committed = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
    expect(committed).toEqual(boards.map((b) => b.file).sort())
    for (const b of boards) expect(readFileSync(join(dir, b.file), 'utf8'), b.file).toBe(serialize(b.json))
  })
})

describe('provisioning files', () => {
  it('declare the InfluxDB (InfluxQL, database ioc) data source the boards use', () => {
    const ds = parseYaml(readFileSync('dashboards/provisioning/datasources/influxdb.yaml', 'utf8'))
    expect(ds.apiVersion).toBe(1)
    expect(ds.datasources).toHaveLength(1)
    const [d] = ds.datasources
    expect(d).toMatchObject({ uid: DATASOURCE_UID, type: 'influxdb', access: 'proxy', jsonData: { version: 'InfluxQL', dbName: 'ioc' } })
  })

  it('declare a file provider reading the folder docker-compose mounts', () => {
    const p = parseYaml(readFileSync('dashboards/provisioning/dashboards/ioc.yaml', 'utf8'))
    expect(p.apiVersion).toBe(1)
    expect(p.providers[0]).toMatchObject({ type: 'file', options: { path: '/var/lib/grafana/dashboards/ioc' } })
  })
})
