// Builds a value that satisfies a JSON schema (the subset TypeBox emits), so a test can break
// exactly one field of an otherwise valid request and check that the 400 names that field.

type S = Record<string, unknown>

const SAMPLE_STRINGS = ['abc-123', 'abc', 'x', 'a1', '2026-01-01T00:00:00.000Z', 'http://127.0.0.1:1/x']

export function sample(schema: unknown): unknown {
  const s = (schema ?? {}) as S
  if ('const' in s) return s.const
  if (Array.isArray(s.enum)) return s.enum[0]
  if ('default' in s) return s.default
  if (Array.isArray(s.anyOf)) {
    const branches = s.anyOf as S[]
    return sample(branches.find((b) => b.type !== 'null') ?? branches[0])
  }
  switch (s.type) {
    case 'string': {
      if (s.format === 'date-time') return new Date().toISOString()
      if (typeof s.pattern === 'string') {
        const re = new RegExp(s.pattern)
        const hit = SAMPLE_STRINGS.find((c) => re.test(c))
        if (hit) return hit
      }
      return 'x'.repeat(Math.max(1, Number(s.minLength ?? 1)))
    }
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum + 1 : 1
    case 'boolean':
      return true
    case 'null':
      return null
    case 'array':
      return Array.from({ length: Number(s.minItems ?? 0) }, () => sample(s.items))
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, unknown>
      const out: Record<string, unknown> = {}
      for (const key of (s.required ?? []) as string[]) out[key] = sample(props[key])
      const min = Number(s.minProperties ?? 0)
      for (const key of Object.keys(props)) {
        if (Object.keys(out).length >= min) break
        if (!(key in out)) out[key] = sample(props[key])
      }
      return out
    }
  }
  return undefined
}

/** True when an anchored pattern can only match strings of bounded length (no *, + or {n,}). */
export function patternBounded(pattern: unknown): boolean {
  if (typeof pattern !== 'string' || !pattern.startsWith('^') || !pattern.endsWith('$')) return false
  const bare = pattern.replace(/\\./g, 'e').replace(/\[[^\]]*\]/g, 'c')
  return !/[*+]|\{\d*,\}/.test(bare)
}

/** Paths of string and array nodes that have no upper bound (an over-long value would pass). */
export function unboundedNodes(schema: unknown, path = ''): string[] {
  const s = (schema ?? {}) as S
  const found: string[] = []
  if (
    s.type === 'string' &&
    !('enum' in s) &&
    !('const' in s) &&
    s.maxLength === undefined &&
    s.format !== 'date-time' &&
    !patternBounded(s.pattern)
  )
    found.push(`${path || '/'} (string without maxLength)`)
  if (s.type === 'array' && s.maxItems === undefined) found.push(`${path || '/'} (array without maxItems)`)
  for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, unknown>)) found.push(...unboundedNodes(v, `${path}/${k}`))
  if (s.items) found.push(...unboundedNodes(s.items, `${path}/items`))
  for (const b of (s.anyOf ?? []) as unknown[]) found.push(...unboundedNodes(b, path))
  if (s.additionalProperties && typeof s.additionalProperties === 'object')
    found.push(...unboundedNodes(s.additionalProperties, `${path}/*`))
  return found
}

/** Top-level properties of an object schema with their schemas. */
export function properties(schema: unknown): Array<[string, S]> {
  return Object.entries(((schema ?? {}) as S).properties ?? {}) as Array<[string, S]>
}

export function typeOf(s: S): string | undefined {
  if (typeof s.type === 'string') return s.type
  if (Array.isArray(s.anyOf)) return typeOf(((s.anyOf as S[]).find((b) => b.type !== 'null') ?? {}) as S)
  return undefined
}
