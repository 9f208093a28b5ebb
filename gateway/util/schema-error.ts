// The first schema error of a file or section, as the dotted key it is about and what is wrong:
// `key: message` in a configuration error, `key message` in a rules error. One reading of
// typebox's errors for every loader, so an operator sees the same wording for the same mistake.

/** What typebox reports for one failed check (Value.Errors, Compile(...).Errors). */
export interface SchemaErrorLike {
  keyword: string
  instancePath: string
  message?: string | undefined
  params: unknown
}

export interface SchemaProblem {
  /** Dotted key, e.g. `notify.sms.url` or `rules.2.thresholds_mm`; the root key when the value itself is wrong. */
  key: string
  message: string
}

export interface SchemaProblemOptions {
  /** First key of every path (the section's name), e.g. `notify`. */
  prefix?: string
  /** The key named when the value itself is wrong. Default `(root)`. */
  root?: string
  /**
   * Keywords passed over when another error is there. typebox reports an unknown key twice (as
   * `additionalProperties` and as a `false` schema, keyword `boolean`, at its path), and a union as
   * `anyOf` where its branch's own error says what is wrong. Default both.
   */
  skip?: readonly string[]
  /** Wording for a key the schema does not have, e.g. `is not an accepted key`; else typebox's sentence. */
  unknown?: string
  /** Name the missing key(s) in the key and say `is required`, rather than typebox's sentence. */
  required?: boolean
}

const DEFAULT_SKIP = ['boolean', 'anyOf'] as const

export function schemaProblem(errors: Iterable<SchemaErrorLike>, opts: SchemaProblemOptions = {}): SchemaProblem | undefined {
  const all = [...errors]
  const skip: readonly string[] = opts.skip ?? DEFAULT_SKIP
  const e = all.find((x) => !skip.includes(x.keyword)) ?? all.find((x) => x.keyword !== 'boolean') ?? all[0]
  if (!e) return undefined
  const params = (e.params ?? {}) as { additionalProperties?: string[]; requiredProperties?: string[]; allowedValues?: unknown[] }
  const unknownKey = e.keyword === 'additionalProperties' ? params.additionalProperties?.[0] : undefined
  const missing = e.keyword === 'required' && opts.required ? params.requiredProperties?.join(', ') : undefined
  const parts = [opts.prefix, ...e.instancePath.split('/'), unknownKey ?? missing].filter((p): p is string => p !== undefined && p !== '')
  const key = parts.join('.') || (opts.root ?? '(root)')
  const message =
    (e.keyword === 'boolean' || unknownKey !== undefined) && opts.unknown !== undefined
      ? opts.unknown
      : missing !== undefined
        ? 'is required'
        : params.allowedValues
          ? `must be one of ${params.allowedValues.join(', ')}`
          : (e.message ?? 'is not valid')
  return { key, message }
}

/** What decodeJson needs of a compiled check (typebox/compile's Compile). */
export interface CompiledCheck<T> {
  Check(value: unknown): value is T
  Errors(value: unknown): Iterable<SchemaErrorLike>
}

/**
 * A JSON message from another node (Redis pub/sub), checked like any input at an edge: the value,
 * or what is wrong with it (`not JSON`, or the first error's path and message), for the caller to
 * count and log.
 */
export function decodeJson<T>(check: CompiledCheck<T>, message: string): T | string {
  let v: unknown
  try {
    v = JSON.parse(message)
  } catch {
    return 'not JSON'
  }
  if (check.Check(v)) return v
  const [e] = check.Errors(v)
  return `${e?.instancePath || '/'}: ${e?.message ?? 'invalid'}`
}
