import type { Command } from 'commander'
import type { UserAccount } from '../../registry/users.ts'
import { callApi, print, printJson, printList } from '../client.ts'
import { CliError } from '../errors.ts'
import { collect, roleOption } from '../options.ts'

// `iocgw user`: accounts for people (console log-in) through the API, like `iocgw token`
// (IOC_TOKEN of an admin). Passwords are read from the terminal without echo, or from stdin with
// --password-stdin (scripts); never from an argument, which `ps` and shell history would show.

/** A user as `/api/v1/users` answers it: the account without its internal id. */
type User = Omit<UserAccount, 'id'>

/** The first line of stdin (a pipe or file), without its line end. */
async function passwordFromStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  const line = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? ''
  if (!line) throw new CliError('no password on stdin: give it as the first line, or run on a terminal to be asked for it')
  return line
}

/** Reads one line from the terminal with echo off (raw mode), on stderr so stdout stays clean. */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin
  return new Promise((resolve, reject) => {
    process.stderr.write(prompt)
    let value = ''
    const done = (err?: Error) => {
      stdin.off('data', onData)
      stdin.setRawMode(false)
      stdin.pause()
      process.stderr.write('\n')
      if (err) reject(err)
      else resolve(value)
    }
    const onData = (data: Buffer) => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done()
        if (ch === '\u0003') return done(new CliError('cancelled'))
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('')
        else if (ch >= ' ') value += ch
      }
    }
    stdin.setRawMode(true)
    stdin.resume()
    stdin.on('data', onData)
  })
}

async function readPassword(name: string, fromStdin: boolean | undefined): Promise<string> {
  if (fromStdin || !process.stdin.isTTY) return passwordFromStdin()
  const first = await promptHidden(`Password for ${name}: `)
  const again = await promptHidden('Again: ')
  if (first !== again) throw new CliError('the two passwords differ; nothing changed')
  return first
}

const scopeText = (u: User) => [...u.districts.map((d) => `district ${d}`), ...u.stations.map((s) => `station ${s}`)].join(', ') || 'all'

export function register(program: Command): void {
  const user = program.command('user').description('user accounts for people: console log-in (admin token)')

  user
    .command('add <name>')
    .description('create a user; the password is asked for (or read from stdin)')
    .addOption(roleOption())
    .option('--district <district>', 'limit the user to this district (repeat for several)', collect)
    .option('--station <station>', 'limit the user to this station (repeat for several)', collect)
    .option('--password-stdin', 'read the password from the first line of stdin')
    .option('--json', 'print the API answer as JSON')
    .action(async (name: string, o: { role: string; district?: string[]; station?: string[]; passwordStdin?: boolean; json?: boolean }) => {
      const password = await readPassword(name, o.passwordStdin)
      const res = await callApi<User>('POST', '/users', {
        name,
        role: o.role,
        password,
        ...(o.district ? { districts: o.district } : {}),
        ...(o.station ? { stations: o.station } : {}),
      })
      if (o.json) return printJson(res)
      print(`user ${res.name} created (${res.role}; places: ${scopeText(res)}); log in to the console with this name and password`)
    })

  user
    .command('list')
    .description('list users (never their passwords)')
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }) =>
      printList<User>('/users', o.json, { name: 'NAME', role: 'ROLE', places: 'PLACES', state: 'STATE', last: 'LAST LOGIN' }, (u) => ({
        name: u.name,
        role: u.role,
        places: scopeText(u),
        state: u.disabled ? 'disabled' : 'active',
        last: u.last_login_at,
      })),
    )

  user
    .command('passwd <name>')
    .description("set a user's password; every session of the user ends")
    .option('--password-stdin', 'read the password from the first line of stdin')
    .action(async (name: string, o: { passwordStdin?: boolean }) => {
      const password = await readPassword(name, o.passwordStdin)
      await callApi('POST', `/users/${encodeURIComponent(name)}/password`, { password })
      print(`password of ${name} changed; their sessions have ended`)
    })

  for (const [cmd, disabled, what] of [
    ['disable', true, 'cannot log in; their sessions end now'],
    ['enable', false, 'may log in again'],
  ] as const) {
    user
      .command(`${cmd} <name>`)
      .description(`${cmd} a user: ${what}`)
      .option('--json', 'print the API answer as JSON')
      .action(async (name: string, o: { json?: boolean }) => {
        const res = await callApi<User>('PATCH', `/users/${encodeURIComponent(name)}`, { disabled })
        if (o.json) return printJson(res)
        print(`user ${res.name} ${cmd}d: ${what}`)
      })
  }
}
