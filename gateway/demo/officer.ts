import { randomBytes } from 'node:crypto'

// The demo's console login: an officer account (docs/api.md, "Users"), made through the API with
// the demo's admin token as an admin would, with a password drawn afresh on every start. There is
// no default password: the one printed at start is the only copy (the registry keeps its scrypt
// hash), and it lives in the demo's own data directory.

/** The demo officer's login name ("trực ban": the officer on duty). */
export const DEMO_OFFICER = 'truc.ban'

export interface DemoLogin {
  name: string
  password: string
}

/** 18 random bytes: 24 base64url characters, above the 10 that docs/api.md asks for. */
export const newDemoPassword = () => randomBytes(18).toString('base64url')

/**
 * Creates the demo officer, or gives it a new password when a `--data-dir` kept from an earlier
 * run already holds it (409), so the password printed now is always the one that works.
 */
export async function createDemoOfficer(apiUrl: string, token: string): Promise<DemoLogin> {
  const password = newDemoPassword()
  const call = (method: string, path: string, body: unknown) =>
    fetch(`${apiUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  const created = await call('POST', '/users', { name: DEMO_OFFICER, role: 'officer', password })
  if (created.status === 201) return { name: DEMO_OFFICER, password }
  if (created.status === 409) {
    const reset = await call('POST', `/users/${DEMO_OFFICER}/password`, { password })
    if (reset.status === 204) return { name: DEMO_OFFICER, password }
    throw new Error(`demo: resetting the password of ${DEMO_OFFICER} answered ${reset.status}: ${await reset.text()}`)
  }
  throw new Error(`demo: creating the console user ${DEMO_OFFICER} answered ${created.status}: ${await created.text()}`)
}
