// CONNECT: preConnect keeps the packet (aedes hands authenticate only the credentials), and
// authenticate runs its steps in order, guards first: the first refusal answers the CONNACK with
// its return code (clause 3.2.2.3) and nothing is recorded; only a client that passes every step
// is counted and gets a session (acceptSession).
import type { AuthenticateError, Client, ConnectPacket } from 'aedes'
import { deviceTopic } from '../protocol/topics.ts'
import { devicePublish } from './acl.ts'
import { ownsClientId } from './client-id.ts'
import type { HookState } from './hook-state.ts'
import { levelRefused, supportedLevel } from './protocol-level.ts'
import { principalKey, type Principal } from './sessions.ts'
import type { ConnectRefuseReason } from './types.ts'

/** MQTT 3.1.1 clause 3.2.2.3, CONNACK return codes. */
const CONNACK = {
  unacceptableProtocolLevel: 1,
  identifierRejected: 2,
  serverUnavailable: 3,
  badUsernameOrPassword: 4,
  notAuthorized: 5,
} as const

const REFUSE_CODE: Record<ConnectRefuseReason, number> = {
  missing_credentials: CONNACK.badUsernameOrPassword,
  unknown_device: CONNACK.badUsernameOrPassword,
  bad_secret: CONNACK.badUsernameOrPassword,
  bad_token: CONNACK.badUsernameOrPassword,
  device_disabled: CONNACK.notAuthorized,
  device_decommissioned: CONNACK.notAuthorized,
  will_not_permitted: CONNACK.notAuthorized,
  client_id_in_use: CONNACK.identifierRejected,
  client_id_not_owned: CONNACK.identifierRejected,
  persistent_session_limit: CONNACK.identifierRejected,
  protocol_level: CONNACK.unacceptableProtocolLevel,
  registry_error: CONNACK.serverUnavailable,
  session_store_error: CONNACK.serverUnavailable,
  rate_limited: CONNACK.notAuthorized,
}

/** Username integrations connect with (docs/mqtt.md "Integrations"); the password is an API token. */
export const TOKEN_USERNAME = 'token'

/** One CONNECT being authenticated, as the steps see it. */
export interface ConnectAttempt {
  client: Client
  username: string | undefined
  password: Buffer | undefined
  packet: ConnectPacket | undefined
  remote: string | undefined
}

/** After identifyPrincipal: who is connecting. */
export interface IdentifiedAttempt extends ConnectAttempt {
  principal: Principal
  clientId: string
  clean: boolean
}

type ConnectStep = (hs: HookState, a: ConnectAttempt) => ConnectRefuseReason | undefined
type IdentifiedStep = (hs: HookState, a: IdentifiedAttempt) => ConnectRefuseReason | undefined

/** The guards before the principal is known, then those that need it; acceptSession last. */
const connectSteps: readonly ConnectStep[] = [notRateLimited, credentialsPresent]
const identifiedSteps: readonly IdentifiedStep[] = [willPermitted, clientIdOwned, noForeignTakeover]

export function preConnect(hs: HookState, client: Client, packet: ConnectPacket, done: (err: Error | null, ok: boolean) => void): void {
  if (!supportedLevel(packet.protocolVersion ?? 4)) levelRefused(hs.m, hs.log, client, packet.protocolVersion) // aedes answers (5)
  hs.connectPackets.set(client, packet)
  done(null, true)
}

export function authenticate(
  hs: HookState,
  client: Client,
  username: Readonly<string | undefined>,
  password: Readonly<Buffer | undefined>,
  done: (err: AuthenticateError | null, ok: boolean | null) => void,
): void {
  const packet = hs.connectPackets.get(client)
  hs.connectPackets.delete(client)
  const attempt: ConnectAttempt = { client, username, password, packet, remote: remoteOf(client) }
  for (const step of connectSteps) {
    const reason = step(hs, attempt)
    if (reason) return refuseConnect(hs, attempt, reason, done)
  }
  identifyPrincipal(hs, attempt).then(
    (identified) => {
      if (typeof identified === 'string') return refuseConnect(hs, attempt, identified, done)
      // Gone while the registry answered: aedes drops the answer (lib/handlers/connect.js), so no session either.
      if ((client as { closed?: boolean }).closed) return done(null, false)
      for (const step of identifiedSteps) {
        const reason = step(hs, identified)
        if (reason) return refuseConnect(hs, attempt, reason, done)
      }
      if (!hs.sharedSessions) {
        acceptSession(hs, identified)
        return done(null, true)
      }
      // Cluster mode: the persistent-session cap is checked and recorded in Redis in one step.
      hs.sharedSessions.admit(identified.principal, identified.clientId, identified.clean).then(
        (reason) => {
          if (reason) return refuseConnect(hs, attempt, reason, done)
          acceptSession(hs, identified)
          done(null, true)
        },
        (err: Error) => {
          hs.log.error({ event: 'mqtt_session_store_error', err: err.message }, 'Redis failed during MQTT authentication')
          refuseConnect(hs, attempt, 'session_store_error', done)
        },
      )
    },
    (err: Error) => done(err as AuthenticateError, false),
  )
}

function refuseConnect(
  hs: HookState,
  a: ConnectAttempt,
  reason: ConnectRefuseReason,
  done: (err: AuthenticateError | null, ok: boolean | null) => void,
): void {
  // aedes has set this connection's id to the one claimed (maybe another's), and closing a
  // clean one deletes the QoS 2 state stored under it (lib/client.js close, cleanIncoming).
  a.client.clean = false
  hs.m.connectRefused.inc({ reason })
  // Never the password: who tried, from where and why, summarised per interval (gate).
  hs.gate.refused(reason, a.remote, a.username)
  const err = new Error(`connection refused: ${reason}`) as AuthenticateError
  ;(err as { returnCode: number }).returnCode = REFUSE_CODE[reason]
  done(err, false)
}

/** Step 0: too many failed authentications from this address or for this name (HTTP's too). */
function notRateLimited(hs: HookState, a: ConnectAttempt): ConnectRefuseReason | undefined {
  return hs.gate.blocked(a.remote, a.username) ? 'rate_limited' : undefined
}

/** Step 1: credentials present (clause 3.1.2.9: both flags; docs/mqtt.md: every client authenticates). */
function credentialsPresent(_hs: HookState, a: ConnectAttempt): ConnectRefuseReason | undefined {
  return !a.username || !a.password || a.password.length === 0 ? 'missing_credentials' : undefined
}

/** Step 2: who is it: an integration token or a device (clause 3.2.2.3 codes 4 and 5). */
async function identifyPrincipal(hs: HookState, a: ConnectAttempt): Promise<IdentifiedAttempt | ConnectRefuseReason> {
  const secret = a.password!.toString('utf8')
  let principal: Principal
  try {
    if (a.username === TOKEN_USERNAME) {
      const token = await hs.registry.authenticateToken(secret)
      if (!token) return 'bad_token'
      principal = { kind: 'integration', token }
    } else {
      const res = await hs.registry.authenticateDevice(a.username!, secret)
      if (!res.ok) return res.reason
      principal = { kind: 'device', device: res.device }
    }
  } catch (err) {
    hs.log.error({ event: 'mqtt_auth_error', err: (err as Error).message }, 'registry failed during MQTT authentication')
    return 'registry_error'
  }
  return { ...a, principal, clientId: a.packet?.clientId ?? a.client.id, clean: a.packet?.clean ?? a.client.clean }
}

/**
 * Step 3: the will must be a message this client could publish itself (clause 3.1.2.5), so
 * a device cannot leave a message on another device's topic by disconnecting.
 */
function willPermitted(_hs: HookState, a: IdentifiedAttempt): ConnectRefuseReason | undefined {
  const will = a.packet?.will
  if (!will) return undefined
  return a.principal.kind !== 'device' || !devicePublish(a.principal.device.id, will.topic).ok ? 'will_not_permitted' : undefined
}

/**
 * Step 4: the client id must be this principal's own, a new persistent session within its cap
 * (client-id.ts). aedes authenticates before it reads or cleans the session, replaces its will or
 * takes over a live client with that id (lib/handlers/connect.js fetchSubs, storeWill, registerClient).
 */
function clientIdOwned(hs: HookState, a: IdentifiedAttempt): ConnectRefuseReason | undefined {
  if (hs.sharedSessions) return ownsClientId(a.principal, a.clientId, a.clean) ? undefined : 'client_id_not_owned'
  return hs.persistentSessions.refusal(a.principal, a.clientId, a.clean) ?? undefined
}

/**
 * Step 5: a live session with this client id that belongs to someone else is not taken over
 * (clause 3.1.4-2 takeover is for the same client; across principals it would let one
 * device kick another off). Same principal: the normal takeover.
 */
function noForeignTakeover(hs: HookState, a: IdentifiedAttempt): ConnectRefuseReason | undefined {
  const existing = (hs.aedes() as unknown as { clients: Record<string, Client> }).clients[a.client.id]
  if (existing && existing !== a.client) {
    const s = hs.sessions.get(existing)
    if (s && principalKey(s.principal) !== principalKey(a.principal)) return 'client_id_in_use'
  }
  return undefined
}

/** Step 6: side effects last: the persistent-session count and the session table. */
function acceptSession(hs: HookState, a: IdentifiedAttempt): void {
  if (!hs.sharedSessions) hs.persistentSessions.accepted(a.principal, a.clientId, a.clean)
  const statusTopic = a.principal.kind === 'device' ? deviceTopic.status(a.principal.device.id) : ''
  hs.sessions.attach(a.client, a.principal, a.packet?.will?.topic === statusTopic)
}

function remoteOf(client: Client): string | undefined {
  const c = client.conn as { remoteAddress?: string }
  return c.remoteAddress ?? client.req?.socket?.remoteAddress
}
