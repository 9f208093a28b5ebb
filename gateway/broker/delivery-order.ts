// Live deliveries to a client, whatever the order its messages arrive in. aedes delivers a message
// to a client only if its packet number is above the highest it delivered to that client from the
// same broker id (lib/client.js dedupe), meant to drop the second copy of one message when two
// of the client's subscriptions match it. Across nodes (cluster.ts) a node's messages do not
// reach the others in the order it numbered them: a retained status is stored before it is
// routed, a QoS 1 message is queued for offline sessions first, a QoS 0 one is not, and each waits
// on Redis; so a later-numbered message arriving first made aedes drop the earlier one. A clean
// session lost it; a persistent one got it only from its queue at its next reconnect. Here a
// message is dropped only when this client already had it: its broker id and number among the
// last ones delivered.
//
// And nothing is delivered live before the CONNACK. aedes restores a resumed session's
// subscriptions a few Redis round trips before it sends the CONNACK, and wrote a message that
// arrived in between first, against MQTT-3.2.0-1 (the first packet from the server is the
// CONNACK); mqtt.js then never connects: it holds that message's PUBACK until the CONNACK, which
// it parses only after. Such a message (QoS 1 or 2) is in the session's queue, sent after the
// CONNACK (lib/handlers/connect.js emptyQueue): the queue is read after the CONNACK is written, and
// a node queues a message before it routes it. A QoS 0 one is not queued: at most once.
import type { Client } from 'aedes'

type Deliver = (packet: { brokerId?: string; brokerCounter?: number; qos?: number }, cb: () => void) => void

/**
 * Messages remembered per client. The copies of one message (one per matching subscription) are
 * delivered one after the other from the same emit, so a short memory finds them; and a client
 * that receives little (a device) holds little.
 */
const REMEMBERED = 64

/** Replaces the client's aedes deliver functions; call before its CONNECT is handled (subscriptions take them then). */
export function deliverInAnyOrder(client: Client): void {
  const c = client as unknown as { connackSent: boolean; duplicates: Record<string, number>; deliverQoS: Deliver; deliver0: Deliver }
  const recent = new Set<string>()
  const firstTime = (packet: Parameters<Deliver>[0]): boolean => {
    if (!c.connackSent) return false
    const id = packet.brokerId
    if (!id) return true
    const key = `${id}:${packet.brokerCounter}`
    if (recent.has(key)) return false
    recent.add(key)
    if (recent.size > REMEMBERED) recent.delete(recent.values().next().value!)
    // aedes' own check then always passes (0 < number) and records nothing that lasts.
    delete c.duplicates[id]
    return true
  }
  const deliver0 = c.deliver0
  const deliverQoS = c.deliverQoS
  c.deliver0 = (packet, cb) => (firstTime(packet) ? deliver0(packet, cb) : setImmediate(cb))
  c.deliverQoS = (packet, cb) => {
    // aedes hands a QoS 0 message on to deliver0 (this one's check).
    if (!packet.qos) return c.deliver0(packet, cb)
    if (firstTime(packet)) return deliverQoS(packet, cb)
    setImmediate(cb)
  }
}
