// The one cookie the API reads and writes: the console session. Parsed here rather than with
// @fastify/cookie because that plugin's current releases need the `cookie` package 2.x, which
// requires Node 22, and this gateway runs on Node 20; one name=value pair needs no library.

export const SESSION_COOKIE = 'iocgw_session'

/** The value of cookie `name` in a Cookie header (RFC 6265 section 5.4), or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    if (part.slice(0, eq).trim() !== name) continue
    let value = part.slice(eq + 1).trim()
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1)
    // Session ids are base64url; anything else cannot be one and is not looked up.
    return /^[A-Za-z0-9_-]{1,128}$/.test(value) ? value : undefined
  }
  return undefined
}

/**
 * Set-Cookie for the session: HttpOnly (no script reads it), SameSite=Strict (no other site's
 * page sends it), Path=/ and Secure when the request came over HTTPS. No Max-Age: the browser
 * forgets it when it closes; the server ends it after the idle timeout or maximum age anyway.
 */
export function sessionCookie(value: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`
}

/** Set-Cookie that makes the browser drop the session cookie. */
export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`
}
