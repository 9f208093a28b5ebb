// Graceful close: stop accepting, close clients (also ones that never sent CONNECT), free the ports.
import { connect, createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { closed, startBroker } from './harness.ts'

describe('broker lifecycle', () => {
  it('closes every client, frees its ports and refuses to publish afterwards', async () => {
    const h = await startBroker()
    const secret = await h.addDevice('life-01')
    const c = await h.connect('life-01', secret)
    const silent = connect({ port: h.ports.mqtt, host: '127.0.0.1' })
    silent.on('error', () => {})
    await new Promise<void>((r) => silent.once('connect', () => r()))
    const silentGone = new Promise<void>((r) => silent.once('close', () => r()))
    const gone = closed(c)
    await h.broker.close()
    await gone
    await silentGone
    expect(h.broker.ready()).toBe(false)
    await expect(h.broker.publish('devices/life-01/config', '{}', { qos: 1, retain: true })).rejects.toThrow(/closed/)
    for (const port of [h.ports.mqtt, h.ports.ws]) {
      const srv = createServer()
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject)
        srv.listen(port, '127.0.0.1', () => resolve())
      })
      await new Promise((r) => srv.close(r))
    }
    await h.stop()
  })
})
