import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { freePort, tempDir, waitFor } from '../support/services.ts'

describe('npm run demo', () => {
  it('runs the gateway with a simulated field: water levels carry alarm_level, stops on SIGINT', async () => {
    const [http, mq, ws] = [await freePort(), await freePort(), await freePort()]
    const dir = await tempDir()
    const child = spawn(process.execPath, ['gateway/cli/iocgw.js', 'demo', '--speed', '3600', '--http-port', String(http),
      '--mqtt-port', String(mq), '--mqtt-ws-port', String(ws), '--data-dir', dir.path], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (b: Buffer) => { out += b.toString() })
    child.stderr.on('data', (b: Buffer) => { out += b.toString() })
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
    try {
      await waitFor(() => out.includes('demo: ready') || undefined, 30_000)
      const token = /admin token: ([0-9a-f]+)/.exec(out)![1]
      const get = async (p: string) => (await fetch(`http://127.0.0.1:${http}${p}`, { headers: { authorization: `Bearer ${token}` } })).json() as Promise<any>
      let latest: any
      await waitFor(async () => {
        latest = await get('/api/v1/readings/latest?kind=water_level')
        return latest.items?.length === 2 && latest.items.every((i: any) => typeof i.values.alarm_level === "number") ? true : undefined
      }, 15_000)
      expect(latest.items.map((i: any) => i.station).sort()).toEqual(['kim-long', 'phu-oc'])
      const openapi = await (await fetch(`http://127.0.0.1:${http}/docs/json`)).json() as any
      if (openapi.paths['/api/v1/alerts']) {
        await waitFor(async () => (await get('/api/v1/alerts')).items.some((a: any) => a.kind === 'water_level') || undefined, 15_000)
      }
      if (openapi.paths['/api/v1/cameras/{id}/detections']) {
        await waitFor(async () => (await get('/api/v1/cameras/demo-cam-1/detections')).items?.length > 0 || undefined, 30_000)
      }
    } finally {
      child.kill('SIGINT')
    }
    expect(await exited).toBe(0)
  }, 60_000)
})
