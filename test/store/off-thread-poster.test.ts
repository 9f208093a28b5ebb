// Write requests to InfluxDB are POSTed by a thread of their own (gateway/store/influx/
// off-thread-poster.ts): answers and failures must come back as the in-thread client gave them,
// and the thread must not outlive its use.
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OffThreadPoster } from '../../gateway/store/influx/off-thread-poster.ts'
import { PostError } from '../../gateway/store/influx/write-request.ts'
import { freePort } from '../support/services.ts'

describe('the InfluxDB write thread', () => {
  let server: Server
  let url: string
  const bodies: string[] = []

  beforeAll(async () => {
    // Answers as InfluxDB's /write does: 204, or 400 with its JSON error for a bad line.
    server = createServer((req, res) => {
      let body = ''
      req.setEncoding('utf8')
      req.on('data', (c: string) => (body += c))
      req.on('end', () => {
        bodies.push(`${req.headers.authorization ?? '-'} ${body}`)
        if (body.startsWith('bad')) {
          res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"unable to parse \'bad\': missing fields"}')
          return
        }
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/write?db=ioc`
  })
  afterAll(() => new Promise<void>((r) => server.close(() => r())))

  it('posts each body as given and brings back the status and the text of a refusal', async () => {
    const poster = new OffThreadPoster({ url, authorization: 'Basic aW9jOnM=', timeoutMs: 5_000, maxSockets: 2 })
    try {
      const body = Buffer.from('readings,device=wl-1 water_level=1.25 1796446860000')
      const answers = await Promise.all([poster.post(body), poster.post(Buffer.from('bad'))])
      expect(answers).toEqual([
        { status: 204, text: '' },
        { status: 400, text: '{"error":"unable to parse \'bad\': missing fields"}' },
      ])
      expect(bodies).toContain('Basic aW9jOnM= readings,device=wl-1 water_level=1.25 1796446860000')
    } finally {
      poster.close()
    }
  })

  it('answers a refused connection with a network PostError, and a closed poster refuses at once', async () => {
    const poster = new OffThreadPoster({
      url: `http://127.0.0.1:${await freePort()}/write`,
      authorization: undefined,
      timeoutMs: 5_000,
      maxSockets: 1,
    })
    const refused = await poster.post(Buffer.from('x')).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(PostError)
    expect(refused).toMatchObject({ kind: 'network', message: expect.stringContaining('ECONNREFUSED') })
    poster.close()
    expect(poster.running).toBe(false)
    await expect(poster.post(Buffer.from('x'))).rejects.toMatchObject({ kind: 'network', message: 'the InfluxDB writer is closed' })
  })

  it('ends its thread once idle and starts another for the next write', async () => {
    const poster = new OffThreadPoster({ url, authorization: undefined, timeoutMs: 5_000, maxSockets: 1 }, 100)
    try {
      expect(poster.running).toBe(false)
      await poster.post(Buffer.from('readings v=1 1'))
      expect(poster.running).toBe(true)
      await new Promise((r) => setTimeout(r, 400))
      expect(poster.running).toBe(false)
      expect(await poster.post(Buffer.from('readings v=2 2'))).toEqual({ status: 204, text: '' })
    } finally {
      poster.close()
    }
  })

  it('fails what is in flight when closed, rather than leaving it unanswered', async () => {
    // A server that never answers: the write is in flight when the poster closes.
    const silent = createServer(() => {})
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
    const poster = new OffThreadPoster({
      url: `http://127.0.0.1:${(silent.address() as { port: number }).port}/write`,
      authorization: undefined,
      timeoutMs: 60_000,
      maxSockets: 1,
    })
    try {
      const inFlight = poster.post(Buffer.from('readings v=1 1'))
      await new Promise((r) => setTimeout(r, 300))
      poster.close()
      await expect(inFlight).rejects.toMatchObject({ kind: 'network', message: 'the InfluxDB writer is closed' })
    } finally {
      silent.closeAllConnections()
      await new Promise<void>((r) => silent.close(() => r()))
    }
  })
})
