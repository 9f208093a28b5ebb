import { afterEach } from 'vitest'

/**
 * Undo steps for what each test of the calling suite starts (servers, processes, temp dirs): the
 * returned function records them in the order given; after each test they run newest first, so a client goes before
 * the server it talks to.
 */
export function useCleanups(): (...undo: Array<() => unknown>) => void {
  const undos: Array<() => unknown> = []
  afterEach(async () => {
    for (const undo of undos.splice(0).reverse()) await undo()
  })
  return (...undo) => void undos.push(...undo)
}
