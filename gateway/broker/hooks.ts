// The aedes hooks: authenticate, authorizePublish, authorizeSubscribe, authorizeForward. Each is
// a list of named steps, guards first, side effects (counters, routes, session tables) last:
// connect-steps.ts, publish-steps.ts and subscribe-steps.ts, sharing one HookState (hook-state.ts).
import type { AedesPublishPacket, AuthenticateError, Client, ConnectPacket, PublishPacket, Subscription } from 'aedes'
import type { DeviceStatusEvent } from '../bus/events.ts'
import { authenticate, preConnect } from './connect-steps.ts'
import { safeText, type HookContext, type HookState } from './hook-state.ts'
import { authorizePublish, emitStatus } from './publish-steps.ts'
import { StatusRetention } from './status.ts'
import { authorizeForward, authorizeSubscribe } from './subscribe-steps.ts'

export { TOKEN_USERNAME } from './connect-steps.ts'
export type { HookContext } from './hook-state.ts'

/**
 * How long a session may use the device record it read at CONNECT (or last refresh) before
 * reading it again. Routes get the device's station and district from it, and a PATCH of those
 * raises no registry event; revocations (disable, remove, rotate) close the session at once.
 */
export const DEVICE_REFRESH_MS = 5_000

export function createHooks(ctx: HookContext) {
  const hs: HookState = {
    ...ctx,
    retention: new StatusRetention((reason, payload, topic) => {
      ctx.m.statusNotRetained.inc({ reason })
      ctx.log.warn(
        { event: 'mqtt_status_not_retained', topic: safeText(topic), bytes: payload.length, reason },
        'invalid status neither retained nor delivered',
      )
    }),
    connectPackets: new WeakMap(),
    routeMetrics: new Map(),
  }
  return {
    preConnect: (client: Client, packet: ConnectPacket, done: (err: Error | null, ok: boolean) => void) =>
      preConnect(hs, client, packet, done),
    authenticate: (
      client: Client,
      username: Readonly<string | undefined>,
      password: Readonly<Buffer | undefined>,
      done: (err: AuthenticateError | null, ok: boolean | null) => void,
    ) => authenticate(hs, client, username, password, done),
    authorizePublish: (client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void) =>
      authorizePublish(hs, client, packet, cb),
    authorizeSubscribe: (client: Client, sub: Subscription, cb: (err: Error | null, sub?: Subscription | null) => void) =>
      authorizeSubscribe(hs, client, sub, cb),
    authorizeForward: (client: Client, packet: AedesPublishPacket) => authorizeForward(hs, client, packet),
    emitStatus: (ev: DeviceStatusEvent) => emitStatus(hs, ev),
  }
}
