import { isPair, isScalar, isSeq, parseDocument, visit, type Node, type Scalar } from 'yaml'

// A decimal comma (1,00: the Vietnamese way of writing 1.00) in a YAML file either stays a string
// ("1,00", block style) or, inside a flow collection ({ I: 1,00, II: 2,00 }), splits the number in
// two (I: 1 and a key 00), which YAML reports as a duplicate key or the schema as an unknown one.
// Neither message says what is wrong; this finds the comma so the loader can.

export interface DecimalComma {
  /** Dotted path of the value, e.g. stations.kim-long.levels.I; a sequence index as [2]. */
  path: string
  /** The number as written, e.g. 1,00. */
  written: string
  /** 1-based line of the file. */
  line: number
}

const WRITTEN = /^[+-]?\d+,\d+$/
const DIGITS = /^\d+$/

type Ancestors = readonly unknown[]

function pathOf(ancestors: Ancestors, leaf: unknown): string {
  let out = ''
  for (let i = 0; i < ancestors.length; i++) {
    const n = ancestors[i]
    if (isPair(n)) {
      const k = isScalar(n.key) ? String(n.key.value) : String(n.key)
      out += out === '' ? k : `.${k}`
    } else if (isSeq(n)) out += `[${n.items.indexOf((ancestors[i + 1] ?? leaf) as never)}]`
  }
  return out
}

const lineAt = (text: string, offset: number): number => text.slice(0, offset).split('\n').length

/** A number followed at once by `,digits` that YAML took as the next entry of a flow collection. */
function split(text: string, value: unknown, next: unknown): string | undefined {
  if (!isScalar(value) || typeof value.value !== 'number' || !isScalar(next) || !value.range || !next.range) return undefined
  const end = value.range[1]
  if (text[end] !== ',' || next.range[0] !== end + 1) return undefined
  const tail = text.slice(next.range[0], next.range[1])
  return DIGITS.test(tail) ? text.slice(value.range[0], next.range[1]) : undefined
}

/** The first number written with a decimal comma in `text`, or undefined. */
export function findDecimalComma(text: string): DecimalComma | undefined {
  const doc = parseDocument(text, { uniqueKeys: false })
  let found: DecimalComma | undefined
  visit(doc, {
    Scalar(key, node: Scalar, ancestors) {
      if (key === 'key' || node.type !== 'PLAIN' || typeof node.value !== 'string' || !WRITTEN.test(node.value)) return undefined
      found = { path: pathOf(ancestors, node), written: node.value, line: lineAt(text, node.range?.[0] ?? 0) }
      return visit.BREAK
    },
    Map(_key, map, ancestors) {
      if (!map.flow) return undefined
      for (let i = 0; i + 1 < map.items.length; i++) {
        const pair = map.items[i]!
        const next = map.items[i + 1]!
        if (next.value !== null && !(isScalar(next.value) && next.value.value === null)) continue
        const written = split(text, pair.value, next.key)
        if (written === undefined) continue
        found = { path: pathOf([...ancestors, map, pair], pair.value), written, line: lineAt(text, (pair.value as Node).range![0]) }
        return visit.BREAK
      }
      return undefined
    },
    Seq(_key, seq, ancestors) {
      if (!seq.flow) return undefined
      for (let i = 0; i + 1 < seq.items.length; i++) {
        const written = split(text, seq.items[i], seq.items[i + 1])
        if (written === undefined) continue
        found = { path: `${pathOf([...ancestors, seq], seq.items[i])}`, written, line: lineAt(text, (seq.items[i] as Node).range![0]) }
        return visit.BREAK
      }
      return undefined
    },
  })
  return found
}

/** `path: "1,00" uses a decimal comma; write 1.00 (line n)`, or undefined when there is none. */
export function decimalCommaMessage(text: string): string | undefined {
  const d = findDecimalComma(text)
  if (!d) return undefined
  return `${d.path}: "${d.written}" uses a decimal comma; write ${d.written.replace(',', '.')} (line ${d.line})`
}
