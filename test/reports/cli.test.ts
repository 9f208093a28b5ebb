import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt from 'mqtt'
import Value from 'typebox/value'
import { describe, expect, it } from 'vitest'
import { localDate, localDayStart } from '../../gateway/reports/period.ts'
import { ReportSchema } from '../../gateway/reports/types.ts'
import { runIocgw } from '../support/cli.ts'
import { useGatewayProcess, type GatewayProcess } from '../support/gateway-process.ts'
import { tempDir, waitFor } from '../support/services.ts'

// `iocgw report` against the real `iocgw start` process (docs/cli.md): readings sent over MQTT come
// back in the report written with -o, as JSON and CSV; a bad period exits non-zero with the API's message.

const ADMIN = 'report-cli-admin-token-0123456789'
const iocgw = (gw: GatewayProcess, args: string[]) => runIocgw(args, { IOC_API_URL: gw.apiUrl, IOC_TOKEN: ADMIN })

describe('iocgw report on a running gateway', () => {
  const dir = tempDir('iocgw-report-cli-')
  const gw = useGatewayProcess(dir, { IOC_ADMIN_TOKEN: ADMIN })
  const day = localDayStart(Date.now()) - 86_400_000
  const date = localDate(day)

  it('writes the JSON and CSV report of a day holding readings sent over MQTT', async () => {
    const res = await fetch(`${gw.apiUrl}/api/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'kl-cli-01', kind: 'water_level', name: 'Trạm Kim Long', station: 'kim-long', district: 'Huế' }),
    })
    const { credentials } = (await res.json()) as { credentials: { password: string } }
    const c = await mqtt.connectAsync(gw.mqttUrl, {
      username: 'kl-cli-01',
      password: credentials.password,
      clientId: 'kl-cli-01',
      reconnectPeriod: 0,
    })
    try {
      await c.publishAsync(
        'devices/kl-cli-01/telemetry',
        JSON.stringify([
          { ts: day + 8 * 3_600_000, seq: 1, values: { water_level: 1.4 } },
          { ts: day + 9 * 3_600_000, seq: 2, values: { water_level: 2.2 } },
        ]),
        { qos: 1 },
      )
    } finally {
      await c.endAsync()
    }
    const file = join(dir.path, 'r.json')
    await waitFor(
      async () => {
        const run = await iocgw(gw, ['report', '--from', date, '--station', 'kim-long', '-o', file])
        return run.code === 0 && (JSON.parse(readFileSync(file, 'utf8')) as { water_levels: unknown[] }).water_levels.length === 1
      },
      30_000,
      500,
    )
    const report = JSON.parse(readFileSync(file, 'utf8'))
    expect(Value.Check(ReportSchema, report)).toBe(true)
    expect(report.water_levels[0]).toMatchObject({ station: 'kim-long', name: 'Kim Long', readings: 2, max: { value: 2.2 }, max_level: 2 })

    const csv = join(dir.path, 'r.csv')
    const run = await iocgw(gw, ['report', '--from', date, '--format', 'csv', '--lang', 'en', '-o', csv])
    expect(run.code).toBe(0)
    expect(readFileSync(csv, 'utf8')).toContain(`water_levels,kim-long,Kim Long,max,2.2,${new Date(day + 9 * 3_600_000).toISOString()}`)
  })

  it('exits non-zero with the reason for a bad period', async () => {
    const run = await iocgw(gw, ['report', '--from', '2026-12-03', '--to', '2026-12-01'])
    expect(run.code).not.toBe(0)
    expect(run.stderr).toMatch(/400 .*must be after from/)
  })
})
