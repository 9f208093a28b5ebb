import { spawn } from 'node:child_process'
import { BIN, ROOT } from './gateway-process.ts'

// The `iocgw` bin as a user runs it (docs/cli.md): a child process with only PATH, HOME and the
// variables a test names (IOC_API_URL, IOC_TOKEN), asynchronous so that an API served by the test
// process keeps answering meanwhile.

export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

/** Runs `iocgw ...args` to its end (60 s at the most) with `stdin` as its input; never rejects. */
export function runIocgw(args: string[], env: Record<string, string | undefined>, stdin = ''): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      timeout: 60_000,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }))
    child.stdin.end(stdin)
  })
}
