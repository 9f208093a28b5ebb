import { afterAll, beforeAll } from 'vitest'

/**
 * A service (a server process, a pool) started before the calling suite's tests and stopped after
 * them. The answer stands for the running service: read its fields and call its methods in the
 * suite's tests and later hooks; before the start it throws, naming `name`.
 */
export function useSuiteService<T extends object>(
  name: string,
  start: () => Promise<T>,
  stop: (s: T) => Promise<void>,
  timeoutMs: number,
  /** Runs after the stop, and also when the start failed (a temp dir to remove). */
  cleanup: () => void = () => {},
): T {
  let running: T | undefined
  beforeAll(async () => {
    running = await start()
  }, timeoutMs)
  afterAll(async () => {
    try {
      if (running) await stop(running)
    } finally {
      cleanup()
    }
  }, timeoutMs)
  const live = (): T => {
    if (!running) throw new Error(`${name} is not started: use it in the suite's tests or later hooks`)
    return running
  }
  return new Proxy({} as T, {
    get(_target, key) {
      const s = live()
      const v: unknown = Reflect.get(s, key)
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(s) : v
    },
  })
}
