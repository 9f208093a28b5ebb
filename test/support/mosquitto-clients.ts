import { execFile } from 'node:child_process'

// Debian's mosquitto_pub and mosquitto_sub as a second, independent MQTT 3.1.1 implementation
// against the gateway broker. Tests name what differs (topic, -q, -m, -f, -C ...) and leave the
// connection arguments to this file.

/** Where and as whom a mosquitto client connects. */
export interface MosquittoLogin {
  port: number | string
  user: string
  pass: string
  host?: string
}

/** The arguments every mosquitto client call shares: MQTT 3.1.1, the broker, the login and the topic. */
export function mosquittoArgs(login: MosquittoLogin, topic: string, ...extra: string[]): string[] {
  const { host = '127.0.0.1', port, user, pass } = login
  return ['-V', 'mqttv311', '-h', host, '-p', String(port), '-u', user, '-P', pass, '-t', topic, ...extra]
}

/** What a finished client said: its exit code and its stdout followed by its stderr. */
export interface ClientRun {
  code: number | null
  out: string
}

/** Runs a mosquitto client to its end (15 s at the most); never rejects. */
export function runMosquitto(cmd: 'mosquitto_pub' | 'mosquitto_sub', args: string[]): Promise<ClientRun> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0
      resolve({ code: typeof code === 'number' ? code : 1, out: `${stdout}${stderr}` })
    })
  })
}
