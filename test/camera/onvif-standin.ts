import { createHash, randomBytes } from 'node:crypto'
import { createSocket, type Socket } from 'node:dgram'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

// A local stand-in for an ONVIF camera, answering as the two brands most deployed in Vietnamese
// operations centres do: Hikvision-style (media service at /onvif/Media, snapshot at
// /onvif-http/snapshot?Profile_1, RTSP /Streaming/Channels/101) and Dahua-style (media service at
// /onvif/media_service, snapshot at /onvifsnapshot/media_service/snapshot?channel=1&subtype=0,
// RTSP /cam/realmonitor?channel=1&subtype=0). It follows the wire formats of ONVIF Core/Media
// (SOAP 1.2), WS-Security UsernameToken PasswordDigest on SOAP calls, HTTP Digest (RFC 7616,
// MD5, qop=auth) on snapshots, and WS-Discovery ProbeMatches over UDP.

export type Brand = 'hikvision' | 'dahua'

interface BrandInfo {
  manufacturer: string
  model: string
  firmware: string
  serial: string
  hardwareId: string
  mediaPath: string
  realm: string
  profiles: Array<{
    token: string
    name: string
    width: number
    height: number
    encoding: string
    fps: number
    bitrate: number
    rtspPath: string
    snapshotPath: string
  }>
}

const BRANDS: Record<Brand, BrandInfo> = {
  hikvision: {
    manufacturer: 'HIKVISION',
    model: 'DS-2CD2143G2-I',
    firmware: 'V5.7.3 build 220112',
    serial: 'DS-2CD2143G2-I20220315AAWRJ12345678',
    hardwareId: '88',
    mediaPath: '/onvif/Media',
    realm: 'IP Camera(C1234)',
    profiles: [
      {
        token: 'Profile_1',
        name: 'mainStream',
        width: 2688,
        height: 1520,
        encoding: 'H264',
        fps: 25,
        bitrate: 6144,
        rtspPath: '/Streaming/Channels/101?transportmode=unicast&profile=Profile_1',
        snapshotPath: '/onvif-http/snapshot?Profile_1',
      },
      {
        token: 'Profile_2',
        name: 'subStream',
        width: 640,
        height: 360,
        encoding: 'H264',
        fps: 25,
        bitrate: 512,
        rtspPath: '/Streaming/Channels/102?transportmode=unicast&profile=Profile_2',
        snapshotPath: '/onvif-http/snapshot?Profile_2',
      },
    ],
  },
  dahua: {
    manufacturer: 'Dahua',
    model: 'IPC-HFW2431S-S-S2',
    firmware: '2.800.0000000.16.R, Build Date 2021-06-18',
    serial: '6J0A1B2PAZ12345',
    hardwareId: '1.00',
    mediaPath: '/onvif/media_service',
    realm: 'Login to 6J0A1B2PAZ12345',
    profiles: [
      {
        token: 'MediaProfile000',
        name: 'MediaProfile_Channel1_MainStream',
        width: 2688,
        height: 1520,
        encoding: 'H264',
        fps: 20,
        bitrate: 4096,
        rtspPath: '/cam/realmonitor?channel=1&subtype=0&unicast=true&proto=Onvif',
        snapshotPath: '/onvifsnapshot/media_service/snapshot?channel=1&subtype=0',
      },
      {
        token: 'MediaProfile001',
        name: 'MediaProfile_Channel1_SubStream1',
        width: 704,
        height: 576,
        encoding: 'H264',
        fps: 20,
        bitrate: 512,
        rtspPath: '/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif',
        snapshotPath: '/onvifsnapshot/media_service/snapshot?channel=1&subtype=1',
      },
    ],
  },
}

const NS =
  'xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" ' +
  'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" ' +
  'xmlns:ter="http://www.onvif.org/ver10/error"'

const envelope = (body: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<s:Envelope ${NS}><s:Body>${body}</s:Body></s:Envelope>`

const fault = (sub: string, text: string) =>
  envelope(
    `<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>${sub}</s:Value></s:Subcode></s:Code>` +
      `<s:Reason><s:Text xml:lang="en">${text}</s:Text></s:Reason></s:Fault>`,
  )

export interface StandinOptions {
  brand: Brand
  username: string
  password: string
  /** JPEG served as the snapshot. */
  snapshot: Buffer
  rtspPort: number
}

export interface OnvifStandin {
  xaddr: string
  port: number
  brand: BrandInfo
  /** Requests by SOAP action or path, and how many were refused for bad credentials. */
  log: Array<{ what: string; status: number }>
  close(): Promise<void>
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex')

export async function startOnvifStandin(o: StandinOptions): Promise<OnvifStandin> {
  const b = BRANDS[o.brand]
  const log: OnvifStandin['log'] = []
  const nonces = new Set<string>()
  let base = ''

  function checkUsernameToken(xml: string): boolean {
    const user = /<(?:\w+:)?Username>([^<]*)</.exec(xml)?.[1]
    const digest = /<(?:\w+:)?Password[^>]*>([^<]*)</.exec(xml)?.[1]
    const nonce = /<(?:\w+:)?Nonce[^>]*>([^<]*)</.exec(xml)?.[1]
    const created = /<(?:\w+:)?Created[^>]*>([^<]*)</.exec(xml)?.[1]
    if (!user || !digest || !nonce || !created) return false
    // WS-Security UsernameToken Profile 1.0 §3.1: Base64(SHA-1(nonce + created + password)).
    const expect = createHash('sha1')
      .update(Buffer.concat([Buffer.from(nonce, 'base64'), Buffer.from(created), Buffer.from(o.password)]))
      .digest('base64')
    return user === o.username && digest === expect
  }

  function soap(action: string, xml: string): { status: number; body: string } {
    const preAuth = action === 'GetSystemDateAndTime' || action === 'GetCapabilities'
    if (!preAuth && !checkUsernameToken(xml)) return { status: 400, body: fault('ter:NotAuthorized', 'Sender not Authorized') }
    const now = new Date()
    switch (action) {
      case 'GetSystemDateAndTime':
        return {
          status: 200,
          body: envelope(
            `<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>` +
              `<tt:TimeZone><tt:TZ>CST-7:00:00</tt:TZ></tt:TimeZone><tt:UTCDateTime><tt:Time><tt:Hour>${now.getUTCHours()}</tt:Hour><tt:Minute>${now.getUTCMinutes()}</tt:Minute><tt:Second>${now.getUTCSeconds()}</tt:Second></tt:Time>` +
              `<tt:Date><tt:Year>${now.getUTCFullYear()}</tt:Year><tt:Month>${now.getUTCMonth() + 1}</tt:Month><tt:Day>${now.getUTCDate()}</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`,
          ),
        }
      case 'GetCapabilities':
        return {
          status: 200,
          body: envelope(
            `<tds:GetCapabilitiesResponse><tds:Capabilities>` +
              `<tt:Device><tt:XAddr>${base}/onvif/device_service</tt:XAddr></tt:Device>` +
              `<tt:Events><tt:XAddr>${base}/onvif/Events</tt:XAddr><tt:WSSubscriptionPolicySupport>true</tt:WSSubscriptionPolicySupport><tt:WSPullPointSupport>true</tt:WSPullPointSupport></tt:Events>` +
              `<tt:Imaging><tt:XAddr>${base}/onvif/Imaging</tt:XAddr></tt:Imaging>` +
              `<tt:Media><tt:XAddr>${base}${b.mediaPath}</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>true</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>` +
              `</tds:Capabilities></tds:GetCapabilitiesResponse>`,
          ),
        }
      case 'GetDeviceInformation':
        return {
          status: 200,
          body: envelope(
            `<tds:GetDeviceInformationResponse><tds:Manufacturer>${b.manufacturer}</tds:Manufacturer><tds:Model>${b.model}</tds:Model>` +
              `<tds:FirmwareVersion>${b.firmware}</tds:FirmwareVersion><tds:SerialNumber>${b.serial}</tds:SerialNumber><tds:HardwareId>${b.hardwareId}</tds:HardwareId></tds:GetDeviceInformationResponse>`,
          ),
        }
      case 'GetProfiles':
        return {
          status: 200,
          body: envelope(
            `<trt:GetProfilesResponse>` +
              b.profiles
                .map(
                  (p) =>
                    `<trt:Profiles fixed="true" token="${p.token}"><tt:Name>${p.name}</tt:Name>` +
                    `<tt:VideoSourceConfiguration token="VideoSourceToken"><tt:Name>VideoSourceConfig</tt:Name><tt:UseCount>2</tt:UseCount><tt:SourceToken>VideoSource_1</tt:SourceToken><tt:Bounds x="0" y="0" width="2688" height="1520"></tt:Bounds></tt:VideoSourceConfiguration>` +
                    `<tt:VideoEncoderConfiguration token="VideoEncoder_${p.token}"><tt:Name>VideoEncoder_${p.token}</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>${p.encoding}</tt:Encoding>` +
                    `<tt:Resolution><tt:Width>${p.width}</tt:Width><tt:Height>${p.height}</tt:Height></tt:Resolution><tt:Quality>3.000000</tt:Quality>` +
                    `<tt:RateControl><tt:FrameRateLimit>${p.fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>${p.bitrate}</tt:BitrateLimit></tt:RateControl>` +
                    `<tt:H264><tt:GovLength>50</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264><tt:SessionTimeout>PT5S</tt:SessionTimeout></tt:VideoEncoderConfiguration>` +
                    `</trt:Profiles>`,
                )
                .join('') +
              `</trt:GetProfilesResponse>`,
          ),
        }
      case 'GetStreamUri': {
        const token = /<(?:\w+:)?ProfileToken>([^<]*)</.exec(xml)?.[1]
        const protocol = /<(?:\w+:)?Protocol>([^<]*)</.exec(xml)?.[1]
        const p = b.profiles.find((x) => x.token === token)
        if (!p) return { status: 400, body: fault('ter:InvalidArgVal', 'Profile token does not exist') }
        if (protocol !== 'RTSP') return { status: 400, body: fault('ter:InvalidArgVal', 'Stream setup not supported') }
        return {
          status: 200,
          body: envelope(
            `<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>rtsp://127.0.0.1:${o.rtspPort}${p.rtspPath.replace(/&/g, '&amp;')}</tt:Uri>` +
              `<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT60S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>`,
          ),
        }
      }
      case 'GetSnapshotUri': {
        const token = /<(?:\w+:)?ProfileToken>([^<]*)</.exec(xml)?.[1]
        const p = b.profiles.find((x) => x.token === token)
        if (!p) return { status: 400, body: fault('ter:InvalidArgVal', 'Profile token does not exist') }
        return {
          status: 200,
          body: envelope(
            `<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>${base}${p.snapshotPath.replace(/&/g, '&amp;')}</tt:Uri>` +
              `<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT60S</tt:Timeout></trt:MediaUri></trt:GetSnapshotUriResponse>`,
          ),
        }
      }
      default:
        return { status: 400, body: fault('ter:ActionNotSupported', 'Optional Action Not Implemented') }
    }
  }

  function digestOk(req: IncomingMessage): boolean {
    const h = req.headers.authorization
    if (!h?.startsWith('Digest ')) return false
    const f: Record<string, string> = {}
    for (const m of h.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) f[m[1]!] = m[2] ?? m[3] ?? ''
    if (f.username !== o.username || f.realm !== b.realm || !nonces.has(f.nonce ?? '') || f.uri !== req.url) return false
    const ha1 = md5(`${o.username}:${b.realm}:${o.password}`)
    const ha2 = md5(`${req.method}:${f.uri}`)
    return f.response === md5(`${ha1}:${f.nonce}:${f.nc}:${f.cnonce}:${f.qop}:${ha2}`)
  }

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = req.url ?? '/'
      if (req.method === 'POST' && (url === '/onvif/device_service' || url === b.mediaPath)) {
        const xml = Buffer.concat(chunks).toString('utf8')
        const action = /<s:Body[^>]*>\s*<(?:\w+:)?(\w+)/.exec(xml)?.[1] ?? '?'
        const r = soap(action, xml)
        log.push({ what: action, status: r.status })
        res.writeHead(r.status, { 'content-type': 'application/soap+xml; charset=utf-8' })
        res.end(r.body)
        return
      }
      if (req.method === 'GET' && b.profiles.some((p) => p.snapshotPath === url)) {
        // Digest only: a Basic header (which Node adds for `auth`) is answered with a challenge.
        if (!digestOk(req)) {
          const nonce = randomBytes(16).toString('hex')
          nonces.add(nonce)
          log.push({ what: 'snapshot', status: 401 })
          res.writeHead(401, {
            'www-authenticate': `Digest realm="${b.realm}", qop="auth", nonce="${nonce}", stale="FALSE"`,
            'content-type': 'text/html',
          })
          res.end('<html><body>401 Unauthorized</body></html>')
          return
        }
        log.push({ what: 'snapshot', status: 200 })
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': o.snapshot.length })
        res.end(o.snapshot)
        return
      }
      log.push({ what: url, status: 404 })
      res.writeHead(404)
      res.end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const port = (server.address() as AddressInfo).port
  base = `http://127.0.0.1:${port}`
  return {
    xaddr: `${base}/onvif/device_service`,
    port,
    brand: b,
    log,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}

/** ProbeMatches for a camera at `xaddr` (WS-Discovery 1.0 2005/04, as ONVIF devices send). */
export function probeMatches(brand: Brand, xaddr: string, relatesTo: string, urn: string): string {
  const b = BRANDS[brand]
  const scopes = [
    'onvif://www.onvif.org/type/video_encoder',
    'onvif://www.onvif.org/Profile/Streaming',
    `onvif://www.onvif.org/hardware/${b.model}`,
    `onvif://www.onvif.org/name/${b.manufacturer}_${b.model}`,
    'onvif://www.onvif.org/location/city/hue',
  ].join(' ')
  return (
    `<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" ` +
    `xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">` +
    `<env:Header><wsa:MessageID>urn:uuid:${randomBytes(16).toString('hex')}</wsa:MessageID><wsa:RelatesTo>${relatesTo}</wsa:RelatesTo>` +
    `<wsa:To env:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>` +
    `<wsa:Action env:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action></env:Header>` +
    `<env:Body><d:ProbeMatches><d:ProbeMatch><wsa:EndpointReference><wsa:Address>${urn}</wsa:Address></wsa:EndpointReference>` +
    `<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types><d:Scopes>${scopes}</d:Scopes><d:XAddrs>${xaddr}</d:XAddrs>` +
    `<d:MetadataVersion>10</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>`
  )
}

/**
 * Answers WS-Discovery probes on UDP. `multicast` joins 239.255.255.250 at port 3702;
 * otherwise it listens unicast on a free port.
 */
export async function startDiscoveryResponder(
  cameras: Array<{ brand: Brand; xaddr: string; urn: string }>,
  mode: 'multicast' | 'unicast',
): Promise<{ port: number; probes: number; close(): Promise<void> }> {
  const sock: Socket = createSocket({ type: 'udp4', reuseAddr: true })
  const state = { probes: 0 }
  sock.on('message', (msg, rinfo) => {
    const text = msg.toString('utf8')
    if (!text.includes('/discovery/Probe<') && !text.includes('discovery/Probe</')) return
    state.probes++
    const relates = /<(?:\w+:)?MessageID>([^<]*)</.exec(text)?.[1] ?? ''
    for (const c of cameras) {
      const reply = Buffer.from(probeMatches(c.brand, c.xaddr, relates, c.urn))
      sock.send(reply, rinfo.port, rinfo.address)
    }
  })
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject)
    sock.bind(mode === 'multicast' ? 3702 : 0, mode === 'multicast' ? undefined : '127.0.0.1', () => resolve())
  })
  if (mode === 'multicast') {
    // On the default interface: that is where a probe to 239.255.255.250 leaves (and loops back).
    sock.addMembership('239.255.255.250')
  }
  return {
    port: sock.address().port,
    get probes() {
      return state.probes
    },
    close: () => new Promise<void>((r) => sock.close(() => r())),
  }
}

/** Whether a multicast datagram sent here comes back to a local member (not in every sandbox). */
export async function multicastLoops(): Promise<boolean> {
  const r = createSocket({ type: 'udp4', reuseAddr: true })
  const s = createSocket('udp4')
  try {
    await new Promise<void>((res, rej) => (r.once('error', rej), r.bind(0, () => res())))
    r.addMembership('239.255.255.250')
    const got = new Promise<boolean>((res) => {
      r.once('message', () => res(true))
      setTimeout(() => res(false), 1000)
    })
    await new Promise<void>((res) => s.bind(() => res()))
    s.send('ping', r.address().port, '239.255.255.250')
    return await got
  } catch {
    return false
  } finally {
    r.close()
    s.close()
  }
}
