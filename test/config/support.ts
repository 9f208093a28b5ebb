import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, expect } from 'vitest'
import { ConfigError } from '../../gateway/config/load.ts'
import { tempDir } from '../support/services.ts'

// Config files written on the fly for the loader tests, and the message of the error a call throws.

const dir = tempDir('iocgw-config-')
afterAll(() => dir.remove())

/** A scratch folder for what the tests write besides config files (data dirs, models). */
export const configDir = dir.path

/** A fresh YAML file holding `text`; its path. */
export function yamlFile(text: string): string {
  const f = join(dir.path, `c${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(f, text)
  return f
}

/** The message of the `type` error (a ConfigError unless named) that `fn` throws; fails the test when it throws none. */
export function errorOf(fn: () => unknown, type: new (...args: never[]) => Error = ConfigError): string {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(type)
    return (err as Error).message
  }
  throw new Error(`expected a ${type.name}`)
}
