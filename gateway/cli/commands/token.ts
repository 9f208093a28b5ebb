import type { Command } from 'commander'
import type { ApiToken } from '../../registry/types.ts'
import { roleOption } from '../options.ts'
import { callApi, print, printJson, printList } from '../client.ts'

export function register(program: Command): void {
  const token = program.command('token').description('API tokens (admin token)')

  token
    .command('create')
    .description('create an API token and print it (shown only once)')
    .addOption(roleOption())
    .option('--name <name>', 'who or what will use it')
    .option('--json', 'print the API answer as JSON')
    .action(async (o: { role: string; name?: string; json?: boolean }) => {
      const name = o.name ?? `${o.role} token ${new Date().toISOString().slice(0, 16).replace('T', ' ')}`
      const res = await callApi<{ id: string; name: string; role: string; token: string }>('POST', '/tokens', { role: o.role, name })
      if (o.json) return printJson(res)
      print(`token ${res.id} created (${res.role}, "${res.name}"); shown only now, store it:`)
      print('')
      print(`  ${res.token}`)
      print('')
      print('use it with: export IOC_TOKEN=<token>, or "Authorization: Bearer <token>" over HTTP')
    })

  token
    .command('list')
    .description('list API tokens (never their secrets)')
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }) =>
      printList<ApiToken>(
        '/tokens',
        o.json,
        { id: 'ID', role: 'ROLE', name: 'NAME', created_at: 'CREATED', last_used_at: 'LAST USED' },
        (t) => ({
          ...t,
        }),
      ),
    )

  token
    .command('delete <id>')
    .description('delete an API token; it stops working at once')
    .option('--json', 'print {"deleted": id} as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      await callApi('DELETE', `/tokens/${encodeURIComponent(id)}`)
      if (o.json) printJson({ deleted: id })
      else print(`token ${id} deleted`)
    })
}
