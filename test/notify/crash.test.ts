import { spawn, type ChildProcess } from 'node:child_process'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { tempDir, waitFor } from '../support/services.ts'
import { startStandIns, standInConfig, type StandIns } from './standins.ts'

// The gateway process killed with -9 between the outbox write and the send, and in the middle of
// a send: after a restart each (alert change, contact, channel) reaches the provider exactly once.

function child(phase: string, dir: string, config: unknown): { proc: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/notify/crash-child.ts', phase, dir, JSON.stringify(config)], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString()
  })
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)))
  return { proc, out: () => out + err, exited }
}

describe('outbox across kill -9', () => {
  let prov: StandIns
  let dir: ReturnType<typeof tempDir>
  beforeEach(async () => {
    prov = await startStandIns()
    dir = tempDir()
  })
  afterEach(async () => {
    await prov.close()
    dir.remove()
  })

  it('killed after the outbox write, before any send: exactly one message per channel after restart', async () => {
    const cfg = standInConfig(prov)
    const w = child('write', dir.path, cfg)
    await waitFor(() => w.out().includes('READY'), 30_000)
    expect(w.out()).toContain('READY 3')
    w.proc.kill('SIGKILL')
    await w.exited
    expect(prov.received).toHaveLength(0)

    const s = child('send', dir.path, cfg)
    expect(await s.exited).toBe(0)
    const done = JSON.parse(s.out().split('DONE ')[1]!.split('\n')[0]!) as Array<{ channel: string; state: string }>
    expect(done.map((r) => r.state)).toEqual(['sent', 'sent', 'sent'])
    expect(prov.delivered('esms')).toHaveLength(1)
    expect(prov.delivered('zalo_zns')).toHaveLength(1)
    expect(prov.delivered('zalo_oa')).toHaveLength(1)

    // A further restart sends nothing more.
    const again = child('send', dir.path, cfg)
    expect(await again.exited).toBe(0)
    expect(prov.delivered()).toHaveLength(3)
  })

  it('killed in the middle of a send: eSMS is resent with the same RequestId (answered 124), Zalo is not resent', async () => {
    const cfg = standInConfig(prov)
    const w = child('write', dir.path, cfg)
    await waitFor(() => w.out().includes('READY'), 30_000)
    w.proc.kill('SIGKILL')
    await w.exited

    prov.mode = { esms: 'hang', zalo_zns: 'hang', zalo_oa: 'hang' }
    const h = child('hang', dir.path, { ...cfg, timeoutMs: 60_000 })
    await waitFor(() => prov.delivered().length === 3, 30_000)
    h.proc.kill('SIGKILL')
    await h.exited

    prov.mode = {}
    const s = child('send', dir.path, cfg)
    expect(await s.exited).toBe(0)
    const done = JSON.parse(s.out().split('DONE ')[1]!.split('\n')[0]!) as Array<{ channel: string; state: string; attempts: number }>
    expect(done).toEqual([
      { channel: 'sms', state: 'sent', attempts: 2 },
      { channel: 'zalo_zns', state: 'uncertain', attempts: 1 },
      { channel: 'zalo_oa', state: 'uncertain', attempts: 1 },
    ])
    const esms = prov.received.filter((r) => r.provider === 'esms')
    expect(esms.map((r) => r.answer)).toEqual(['delivered', '124'])
    expect(esms[0]!.body.RequestId).toBe(esms[1]!.body.RequestId)
    expect(prov.delivered('esms')).toHaveLength(1)
    expect(prov.delivered('zalo_zns')).toHaveLength(1)
    expect(prov.delivered('zalo_oa')).toHaveLength(1)
  })
})
