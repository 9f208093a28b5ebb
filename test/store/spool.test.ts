import { appendFileSync, readdirSync, statSync, truncateSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Spool } from '../../gateway/store/influx/spool.ts'
import { tempDir } from '../support/services.ts'

// The InfluxDB store's disk spool on its own: order across segments, torn tails, reopen.

const dirs: Array<{ remove: () => void }> = []
const fresh = () => {
  const d = tempDir('iocgw-spool-')
  dirs.push(d)
  return d.path
}
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove()
})

/** A spool record of these lines. */
const record = (lines: string[]): [Buffer, number] => [Buffer.from(lines.join('\n')), lines.length]

function drainAll(spool: Spool): string[] {
  const out: string[] = []
  for (let seg = spool.oldest(); seg !== null; seg = spool.oldest()) {
    for (const r of seg.records) out.push(...r.payload.toString('utf8').split('\n'))
    spool.remove(seg.seq)
  }
  return out
}

describe('disk spool', () => {
  it('gives records back oldest first across segments, counting points and bytes', async () => {
    const dir = fresh()
    const spool = new Spool(dir, 200) // tiny segments: many files
    const lines = Array.from({ length: 100 }, (_, i) => `readings,device=d1 v=${i} ${1000 + i}`)
    for (let i = 0; i < lines.length; i += 5) await spool.append(...record(lines.slice(i, i + 5)))
    expect(spool.points).toBe(100)
    expect(readdirSync(dir).length).toBeGreaterThan(3)
    expect(drainAll(spool)).toEqual(lines)
    expect(spool.points).toBe(0)
    expect(spool.bytes).toBe(0)
    expect(spool.empty).toBe(true)
    expect(readdirSync(dir)).toEqual([])
  })

  it('groups appends of one event-loop turn into one write, each resolved once on disk', async () => {
    const spool = new Spool(fresh())
    await Promise.all(Array.from({ length: 50 }, (_, i) => spool.append(...record([`m v=${i} ${i}`]))))
    expect(spool.points).toBe(50)
    expect(drainAll(spool)).toEqual(Array.from({ length: 50 }, (_, i) => `m v=${i} ${i}`))
  })

  it('keeps what was appended across a reopen, and appends after it in order', async () => {
    const dir = fresh()
    const a = new Spool(dir)
    await a.append(...record(['m v=1 1', 'm v=2 2']))
    a.close()
    const b = new Spool(dir)
    expect(b.points).toBe(2)
    await b.append(...record(['m v=3 3']))
    expect(drainAll(b)).toEqual(['m v=1 1', 'm v=2 2', 'm v=3 3'])
  })

  it('cuts a torn record at the tail (a crash mid-append) and keeps every whole one', async () => {
    const dir = fresh()
    const a = new Spool(dir)
    await a.append(...record(['m v=1 1']))
    await a.append(...record(['m v=2 2', 'm v=3 3']))
    a.close()
    const [file] = readdirSync(dir)
    const path = join(dir, file!)
    const whole = statSync(path).size
    // Half a header and payload of a third record, as a process killed mid-write leaves it.
    appendFileSync(path, Buffer.from([40, 0, 0, 0, 1, 0, 0, 0, 9, 9, 9, 9, 0x6d, 0x20]))
    const b = new Spool(dir)
    expect(b.points).toBe(3)
    expect(statSync(path).size).toBe(whole)
    expect(drainAll(b)).toEqual(['m v=1 1', 'm v=2 2', 'm v=3 3'])
  })

  it('stops at a record whose checksum does not match', async () => {
    const dir = fresh()
    const a = new Spool(dir)
    await a.append(...record(['m v=1 1']))
    await a.append(...record(['m v=2 2']))
    a.close()
    const [file] = readdirSync(dir)
    const path = join(dir, file!)
    truncateSync(path, statSync(path).size - 1)
    appendFileSync(path, 'X') // same length, corrupt last byte
    const b = new Spool(dir)
    expect(drainAll(b)).toEqual(['m v=1 1'])
  })
})
