import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'

/** Why a POST got no answer: the network (refused, reset, …) or the time limit. */
export class PostError extends Error {
  constructor(
    message: string,
    readonly kind: 'network' | 'timeout',
  ) {
    super(message)
  }
}

/** InfluxDB's answer to a write: its status and (at most 500 characters of) its text. */
export interface PostAnswer {
  status: number
  text: string
}

/**
 * POSTs line-protocol bodies to InfluxDB's /write over kept-alive connections. node:http rather
 * than fetch: at a few hundred writes a second, fetch's streams, Request/Response objects and
 * per-call abort signal cost a visible share of the gateway's main thread, and a write needs none
 * of them (a byte body out, a status and a short error text back).
 */
export class WritePoster {
  private readonly agent: HttpAgent
  private readonly send: typeof httpRequest
  private readonly headers: Record<string, string>

  constructor(
    private readonly url: URL,
    authorization: string | undefined,
    private readonly timeoutMs: number,
    maxSockets: number,
  ) {
    const https = url.protocol === 'https:'
    this.agent = https ? new HttpsAgent({ keepAlive: true, maxSockets }) : new HttpAgent({ keepAlive: true, maxSockets })
    this.send = https ? httpsRequest : httpRequest
    this.headers = { 'content-type': 'text/plain; charset=utf-8', ...(authorization ? { authorization } : {}) }
  }

  /**
   * The answer's status and (at most 500 characters of) its text; rejects with a PostError.
   * `handedOver`: called once the whole body is with the kernel, or the request has failed.
   */
  post(body: Buffer, handedOver?: () => void): Promise<PostAnswer> {
    return new Promise((resolve, reject) => {
      const req = this.send(
        this.url,
        { method: 'POST', agent: this.agent, headers: { ...this.headers, 'content-length': String(body.length) } },
        (res: IncomingMessage) => {
          if (res.statusCode === 204) {
            clearTimeout(timer)
            res.resume()
            resolve({ status: 204, text: '' })
            return
          }
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (c: string) => {
            if (text.length < 500) text += c
          })
          res.on('end', () => {
            clearTimeout(timer)
            resolve({ status: res.statusCode ?? 0, text: text.slice(0, 500) })
          })
          res.on('error', (err) => {
            clearTimeout(timer)
            reject(new PostError(err.message, 'network'))
          })
        },
      )
      // The whole exchange, not only socket inactivity, is bounded.
      const timer = setTimeout(() => req.destroy(new PostError(`no answer within ${this.timeoutMs} ms`, 'timeout')), this.timeoutMs)
      req.on('error', (err: Error & { code?: string }) => {
        clearTimeout(timer)
        reject(err instanceof PostError ? err : new PostError(`${err.code ?? err.name}: ${err.message}`, 'network'))
      })
      if (handedOver) {
        req.once('finish', handedOver)
        req.once('close', handedOver)
      }
      req.end(body)
    })
  }
}
