import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { buildBoards } from '../../dashboards/index.ts'
import { GrafanaError, pushBoards } from '../../dashboards/push.ts'
import { tempDir } from '../support/services.ts'
import { startStandin, type Standin } from './grafana-standin.ts'

const run = promisify(execFile)

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['gateway/cli/iocgw.js', 'dashboards', 'push', ...args], {
      env: { ...process.env, GRAFANA_TOKEN: '' },
    })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

describe('iocgw dashboards push against a Grafana stand-in', () => {
  let grafana: Standin
  beforeEach(async () => {
    grafana = await startStandin()
  })
  afterEach(async () => {
    await grafana.close()
  })
  const opts = () => ({ grafanaUrl: grafana.url, token: grafana.token })
  const saves = () => grafana.requests.filter((r) => r.method === 'POST' && r.path === '/api/dashboards/db').length

  it('creates the folder and every board, then leaves unchanged boards alone', async () => {
    const { boards } = buildBoards()
    const first = await pushBoards(boards, opts())
    expect(first.folder).toEqual({ uid: 'ioc', title: 'IOC Huế', created: true })
    expect(first.datasource).toEqual({ uid: 'ioc-influxdb', found: true })
    expect(first.boards.map((b) => [b.uid, b.outcome, b.version])).toEqual(boards.map((b) => [b.uid, 'created', 1]))
    for (const b of boards) {
      const stored = grafana.boards.get(b.uid)!
      expect(stored.folderUid).toBe('ioc')
      expect(stored.json).toEqual(JSON.parse(JSON.stringify(b.json)))
    }
    expect(saves()).toBe(boards.length)

    const again = await pushBoards(buildBoards().boards, opts())
    expect(again.folder.created).toBe(false)
    expect(again.boards.every((b) => b.outcome === 'unchanged' && b.version === 1)).toBe(true)
    expect(saves()).toBe(boards.length)
    expect(grafana.folders.size).toBe(1)
  })

  it('updates a changed board in place: same uid, next version', async () => {
    await pushBoards(buildBoards().boards, opts())
    const floodId = grafana.boards.get('ioc-flood')!.id
    // Kim Long's level III corrected in the stations file: the flood and overview boards change.
    const dir = tempDir()
    try {
      const file = join(dir.path, 'stations.yaml')
      writeFileSync(file, readFileSync('config/stations.yaml', 'utf8').replace('III: 3.50', 'III: 3.60'))
      const changed = buildBoards({ stationsFile: file }).boards
      const report = await pushBoards(changed, opts())
      const outcome = Object.fromEntries(report.boards.map((b) => [b.uid, [b.outcome, b.version]]))
      expect(outcome['ioc-flood']).toEqual(['updated', 2])
      expect(outcome['ioc-operations']).toEqual(['updated', 2])
      expect(outcome['ioc-traffic']).toEqual(['unchanged', 1])
      expect(grafana.boards.get('ioc-flood')!.id).toBe(floodId)
      expect(JSON.stringify(grafana.boards.get('ioc-flood')!.json)).toContain('"value":3.6')
      expect(grafana.boards.size).toBe(5)
      // The update sent the version it read, without Grafana's overwrite flag.
      const save = grafana.requests.filter((r) => r.path === '/api/dashboards/db').at(-1)!.body as {
        overwrite: boolean
        dashboard: { version: number }
      }
      expect(save.overwrite).toBe(false)
      expect(typeof save.dashboard.version).toBe('number')
    } finally {
      dir.remove()
    }
  })

  it('reports a refused token (401) in one clear line', async () => {
    const err = await pushBoards(buildBoards().boards, { grafanaUrl: grafana.url, token: 'wrong' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(GrafanaError)
    expect((err as GrafanaError).status).toBe(401)
    expect((err as GrafanaError).message).toMatch(/refused the token \(401 Unauthorized: Invalid API key\).*--token/)
    expect(saves()).toBe(0)

    const out = await cli(['--grafana-url', grafana.url, '--token', 'wrong'])
    expect(out.code).toBe(1)
    expect(out.stderr.trim().split('\n')).toHaveLength(1)
    expect(out.stderr).toMatch(/^iocgw: Grafana refused the token \(401 Unauthorized/)
    expect(out.stderr).not.toContain('wrong')
  })

  it('reports 412 name-exists for a same-title board and saves the others', async () => {
    grafana.folders.set('ioc', { id: 99, uid: 'ioc', title: 'IOC Huế' })
    grafana.boards.set('someone-elses', {
      id: 98,
      uid: 'someone-elses',
      title: 'Lũ lụt',
      folderUid: 'ioc',
      version: 3,
      json: { title: 'Lũ lụt' },
    })
    const report = await pushBoards(buildBoards().boards, opts())
    const flood = report.boards.find((b) => b.uid === 'ioc-flood')!
    expect(flood.outcome).toBe('failed')
    expect(flood.error).toMatch(
      /412 Precondition Failed, name-exists: A dashboard with the same name in the folder already exists\): another board with the same title/,
    )
    expect(report.boards.filter((b) => b.outcome === 'created')).toHaveLength(4)
    expect(grafana.boards.get('someone-elses')!.version).toBe(3)

    const out = await cli(['--grafana-url', grafana.url, '--token', grafana.token])
    expect(out.code).toBe(1)
    expect(out.stdout).toMatch(/failed\s+ioc-flood/)
    expect(out.stdout).toContain('name-exists')
    expect(out.stderr).toMatch(/^iocgw: 1 board\(s\) not saved: ioc-flood/)
  })

  it('reports 412 version-mismatch when someone saves during the push, and a second push succeeds', async () => {
    await pushBoards(buildBoards().boards, opts())
    const dir = tempDir()
    try {
      const file = join(dir.path, 'stations.yaml')
      writeFileSync(file, readFileSync('config/stations.yaml', 'utf8').replace('II: 2.00', 'II: 2.10'))
      const changed = buildBoards({ stationsFile: file }).boards.filter((b) => b.uid === 'ioc-flood')
      let raced = false
      grafana.beforeSave = () => {
        if (raced) return
        raced = true
        grafana.boards.get('ioc-flood')!.version += 1 // an officer saved the board in the UI
      }
      const first = await pushBoards(changed, opts())
      expect(first.boards[0]).toMatchObject({ outcome: 'failed' })
      expect(first.boards[0]!.error).toMatch(/412 Precondition Failed, version-mismatch.*run the push again/)
      const second = await pushBoards(changed, opts())
      expect(second.boards[0]).toMatchObject({ uid: 'ioc-flood', outcome: 'updated', version: 3 })
    } finally {
      dir.remove()
    }
  })

  it('warns about a missing data source and can point the boards at another one', async () => {
    grafana.datasources.clear()
    grafana.datasources.add('influx-prod')
    const missing = await pushBoards(buildBoards().boards, opts())
    expect(missing.datasource).toEqual({ uid: 'ioc-influxdb', found: false })
    const other = await pushBoards(buildBoards().boards, { ...opts(), datasourceUid: 'influx-prod' })
    expect(other.datasource.found).toBe(true)
    expect(other.boards.every((b) => b.outcome === 'updated')).toBe(true)
    const text = JSON.stringify(grafana.boards.get('ioc-air-quality')!.json)
    expect(text).toContain('"uid":"influx-prod"')
    expect(text).not.toContain('ioc-influxdb')
  })

  it('puts the boards in a named folder, created once', async () => {
    const a = await pushBoards(buildBoards().boards, { ...opts(), folder: 'Trung tâm điều hành' })
    expect(a.folder).toEqual({ uid: 'trung-tam-dieu-hanh', title: 'Trung tâm điều hành', created: true })
    const b = await pushBoards(buildBoards().boards, { ...opts(), folder: 'Trung tâm điều hành' })
    expect(b.folder.created).toBe(false)
    expect([...grafana.boards.values()].every((d) => d.folderUid === 'trung-tam-dieu-hanh')).toBe(true)
  })
})
