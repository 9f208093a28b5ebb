import { Aedes, type Client } from 'aedes'

// Cluster mode: aedes writes a QoS 1 PUBACK first and only then routes the message: stores it as
// retained, queues it in Redis for offline persistent sessions and sends it to the other nodes
// (lib/handlers/publish.js enqueuePublish). A node killed in between acknowledged a message that
// no persistent session ever gets. So the message is routed from authorizePublish, before the
// PUBACK, and aedes' own routing of that packet afterwards does nothing. While Redis is
// unreachable the PUBACK is not held (the routing waits for Redis; the device goes on publishing),
// as before.

type PublishFn = (packet: object, client: Client | null, done: (err?: Error) => void) => void
const publishNow = Aedes.prototype.publish as unknown as PublishFn

export interface RouteBeforeAck {
  /** A step of authorizePublish: routes the packet now, before aedes writes its PUBACK. */
  route(client: Client, packet: object, cb: (err?: Error | null) => void): void
  /** Makes `broker`'s own routing of a packet routed by `route` do nothing. */
  install(broker: Aedes): void
}

/** `redisUp`: whether routing can reach the other nodes now (else the packet goes aedes' own way). */
export function routeBeforeAck(redisUp: () => boolean): RouteBeforeAck {
  const routed = new WeakSet<object>()
  let aedes: Aedes | undefined
  return {
    route(client, packet, cb) {
      if (!redisUp() || !aedes) return cb(null)
      publishNow.call(aedes, packet, client, (err) => {
        if (err) return cb(err)
        routed.add(packet)
        cb(null)
      })
    },
    install(broker) {
      aedes = broker
      ;(broker as unknown as { publish: PublishFn }).publish = function (packet, client, done) {
        if (typeof client === 'function') return publishNow.call(this, packet, null, client)
        if (routed.delete(packet)) return done?.()
        publishNow.call(this, packet, client, done)
      }
    },
  }
}
