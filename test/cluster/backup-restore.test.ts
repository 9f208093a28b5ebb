import { execFileSync } from 'node:child_process'
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectDevice, logIn } from '../support/gateway-api.ts'
import { spawnGateway, stopGateway, type GatewayProcess } from '../support/gateway-process.ts'
import { PG_BIN, requirePostgres, startPostgres, type PgInstance } from '../support/postgres.ts'
import { answersOf, makeProvinceInUse, OFFICER } from '../support/province-in-use.ts'
import { tempDir } from '../support/services.ts'

// docs/operations.md "Backups of a cluster": what the nodes share is PostgreSQL's, so a dump taken
// with pg_dump while a node runs, restored with pg_restore into an empty database, is the cluster
// again for a node started on it with the cluster's server.key: the same devices with their
// original secrets, users with their passwords, rules, contacts, and alerts with their history.

const ADMIN = 'cluster-backup-admin-token-0123456789'

describe.skipIf(!requirePostgres())('a cluster restored from a pg_dump of its PostgreSQL', () => {
  const dirA = tempDir()
  const dirB = tempDir()
  const dumps = tempDir('iocgw-pg-dump-')
  const empty = tempDir('iocgw-no-models-')
  let pgi: PgInstance
  let a: GatewayProcess | undefined
  let b: GatewayProcess | undefined
  const env = { IOC_ADMIN_TOKEN: ADMIN, IOC_MODELS_DIR: empty.path, IOC_MODELS_FALLBACKS: '0' }

  beforeAll(async () => {
    pgi = await startPostgres()
  }, 120_000)
  afterAll(async () => {
    if (b) await stopGateway(b)
    if (a) await stopGateway(a)
    await pgi?.stop()
    for (const d of [dirA, dirB, dumps, empty]) d.remove()
  })

  it('answers as the cluster did when the dump was taken', async () => {
    const url = await pgi.createDatabase('live')
    a = await spawnGateway({ dataDir: dirA.path, env: { ...env, IOC_POSTGRES_URL: url, IOC_NODE_ID: 'node-a' } })
    const gwA = a
    const { credentials, alertId } = await makeProvinceInUse(gwA, ADMIN)
    const before = await answersOf(gwA, ADMIN, alertId)

    // Taken while node A runs: pg_dump reads one snapshot of the database.
    const file = join(dumps.path, 'iocgw.dump')
    execFileSync(join(PG_BIN, 'pg_dump'), ['-Fc', '-f', file, '-d', url], { stdio: 'pipe' })
    await stopGateway(gwA)
    a = undefined

    const restored = await pgi.createDatabase('restored')
    execFileSync(join(PG_BIN, 'pg_restore'), ['--exit-on-error', '-d', restored, file], { stdio: 'pipe' })
    // The node on the restored database hashes with the cluster's server.key (docs/operations.md "Server key").
    cpSync(join(dirA.path, 'server.key'), join(dirB.path, 'server.key'))
    b = await spawnGateway({ dataDir: dirB.path, env: { ...env, IOC_POSTGRES_URL: restored, IOC_NODE_ID: 'node-b' } })

    expect(await answersOf(b, ADMIN, alertId)).toEqual(before)
    await logIn(b.apiUrl, OFFICER.name, OFFICER.password)
    // The device comes back with the secret it was given before the backup.
    const again = await connectDevice(b.mqttUrl, credentials)
    await again.endAsync(true)
  }, 240_000)
})
