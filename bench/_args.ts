// What several benchmarks share: their numeric options and the percentiles they print.

/** `--name N` among a benchmark's arguments, or `def` when it is not given. */
export function arg(args: string[], name: string, def: number): number {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : def
}

/** As `arg`, refusing what is not a positive number (`whole`: not a positive integer) with the option's name. */
export function positiveArg(args: string[], name: string, def: number, whole = false): number {
  const v = arg(args, name, def)
  const ok = whole ? Number.isInteger(v) : Number.isFinite(v)
  if (!ok || v <= 0) throw new Error(`--${name} needs a positive ${whole ? 'integer' : 'number'}`)
  return v
}

/** The nearest-rank percentile `p` (0-100) of `xs`; NaN when there are none. */
export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN
}
