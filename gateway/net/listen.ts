/** A start-up failure that is the operator's to fix, reported as one line without a stack. */
export class StartupError extends Error {
  override name = 'StartupError'
}

/**
 * Runs a listen call and turns its failure into one clear line: a port in use, a port that needs
 * privileges, an unreadable certificate are all for the operator to fix, never a stack trace.
 */
export async function listenOrExplain<T>(what: string, listen: () => Promise<T>, port?: number): Promise<T> {
  try {
    return await listen()
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { port?: number }
    const p = e.port ?? port
    if (e.code === 'EADDRINUSE')
      throw new StartupError(`${what} port ${p} is already in use; stop the other process or choose another port`)
    if (e.code === 'EACCES') throw new StartupError(`${what} port ${p} needs privileges; choose a port above 1023`)
    throw new StartupError(e.message.startsWith(what) ? e.message : `${what}: ${e.message}`)
  }
}
