import { createRequire } from 'node:module'

// ONVIF through node-onvif: WS-Discovery probe, device information, media profiles, stream and
// snapshot URIs. node-onvif authenticates SOAP calls with a WS-Security UsernameToken
// (PasswordDigest, ONVIF Core Specification 5.12) and snapshot downloads with HTTP Digest
// (RFC 7616), which is what Hikvision and Dahua cameras accept.

const require = createRequire(import.meta.url)

interface NodeOnvifProbe {
  urn: string
  name: string
  hardware: string
  location: string
  types: string[] | string
  xaddrs: string[]
  scopes: string[]
}

interface NodeOnvifProfile {
  token: string
  name: string
  snapshot: string
  stream: { udp: string; http: string; rtsp: string }
  video: { encoder: { resolution: { width: number; height: number }; encoding: string; framerate: number } | null }
}

interface NodeOnvifDevice {
  init(): Promise<Record<string, string>>
  getCurrentProfile(): NodeOnvifProfile | null
  getProfileList(): NodeOnvifProfile[]
  changeProfile(indexOrToken: number | string): NodeOnvifProfile | null
  fetchSnapshot(): Promise<{ headers: Record<string, string>; body: Buffer }>
}

interface NodeOnvifModule {
  _MULTICAST_ADDRESS: string
  _PORT: number
  _DISCOVERY_WAIT: number
  startProbe(): Promise<NodeOnvifProbe[]>
  OnvifDevice: new (o: { xaddr: string; user?: string; pass?: string }) => NodeOnvifDevice
}

function lib(): NodeOnvifModule {
  return require('node-onvif') as NodeOnvifModule
}

export interface DiscoveredCamera {
  urn: string
  name: string
  hardware: string
  location: string
  xaddrs: string[]
  scopes: string[]
}

/**
 * WS-Discovery Probe (OASIS WS-Discovery 1.1, section 5.2) for NetworkVideoTransmitter devices.
 * By default multicast to 239.255.255.250:3702; `target` sends the same probe unicast to one
 * address (a camera on another subnet, where multicast does not reach, or a test responder).
 * node-onvif keeps one module-level prober, so probes run one at a time.
 */
let probing: Promise<unknown> = Promise.resolve()
export function discover(opts: { waitMs?: number; target?: { address: string; port: number } } = {}): Promise<DiscoveredCamera[]> {
  const run = async () => {
    const o = lib()
    const saved = { addr: o._MULTICAST_ADDRESS, port: o._PORT, wait: o._DISCOVERY_WAIT }
    // node-onvif has no option for these; its fields are set for the duration of this probe only.
    o._MULTICAST_ADDRESS = opts.target?.address ?? '239.255.255.250'
    o._PORT = opts.target?.port ?? 3702
    o._DISCOVERY_WAIT = opts.waitMs ?? 3000
    try {
      const found = await o.startProbe()
      return found.map((d) => ({
        urn: d.urn,
        name: d.name,
        hardware: d.hardware,
        location: d.location,
        xaddrs: d.xaddrs,
        scopes: d.scopes,
      }))
    } finally {
      o._MULTICAST_ADDRESS = saved.addr
      o._PORT = saved.port
      o._DISCOVERY_WAIT = saved.wait
    }
  }
  const p = probing.then(run, run)
  probing = p.catch(() => undefined)
  return p
}

export interface CameraProfile {
  token: string
  name: string
  rtsp: string | null
  snapshot: string | null
  width: number | null
  height: number | null
  encoding: string | null
}

export interface CameraDescription {
  manufacturer: string
  model: string
  firmware: string
  serial: string
  hardwareId: string
  profiles: CameraProfile[]
}

export interface OnvifCamera {
  description: CameraDescription
  /** Stream URI of the chosen profile, without credentials. */
  rtspUri(profile?: string | number): string | null
  snapshotUri(profile?: string | number): string | null
  /** Downloads a snapshot of the chosen profile (HTTP Digest). */
  snapshot(profile?: string | number): Promise<Buffer>
}

/** Connects to a camera's device service (e.g. http://10.0.0.5/onvif/device_service) and reads its description. */
export async function connectOnvif(o: {
  xaddr: string
  username?: string | undefined
  password?: string | undefined
}): Promise<OnvifCamera> {
  const dev = new (lib().OnvifDevice)({ xaddr: o.xaddr, user: o.username ?? '', pass: o.password ?? '' })
  let info: Record<string, string>
  try {
    info = await dev.init()
  } catch (err) {
    throw new Error(`ONVIF ${o.xaddr}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
  const list = dev.getProfileList()
  const profiles: CameraProfile[] = list.map((p) => ({
    token: p.token,
    name: p.name,
    rtsp: p.stream.rtsp || null,
    snapshot: p.snapshot || null,
    width: p.video.encoder?.resolution.width ?? null,
    height: p.video.encoder?.resolution.height ?? null,
    encoding: p.video.encoder?.encoding ?? null,
  }))
  const pick = (sel?: string | number): NodeOnvifProfile => {
    if (sel === undefined) return list[0]!
    const p = typeof sel === 'number' ? list[sel] : list.find((x) => x.token === sel || x.name === sel)
    if (!p) throw new Error(`ONVIF ${o.xaddr}: no media profile "${sel}"; it has ${list.map((x) => x.token).join(', ')}`)
    return p
  }
  if (!list.length) throw new Error(`ONVIF ${o.xaddr}: the camera reports no media profile`)
  return {
    description: {
      manufacturer: info.Manufacturer ?? '',
      model: info.Model ?? '',
      firmware: info.FirmwareVersion ?? '',
      serial: info.SerialNumber ?? '',
      hardwareId: info.HardwareId ?? '',
      profiles,
    },
    rtspUri: (sel) => pick(sel).stream.rtsp || null,
    snapshotUri: (sel) => pick(sel).snapshot || null,
    async snapshot(sel) {
      dev.changeProfile(pick(sel).token)
      const res = await dev.fetchSnapshot()
      return res.body
    },
  }
}

/** The URI with user and password inserted (for ffmpeg); never log the result. */
export function withCredentials(uri: string, username?: string, password?: string): string {
  if (!username) return uri
  const u = new URL(uri)
  u.username = username
  u.password = password ?? ''
  return u.toString()
}

/** The URI with any credentials removed, for logs and status. */
export function redactUri(uri: string): string {
  try {
    const u = new URL(uri)
    if (u.username || u.password) {
      u.username = '***'
      u.password = ''
    }
    return u.toString()
  } catch {
    return '(invalid uri)'
  }
}
